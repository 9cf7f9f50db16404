import FilterdCommands

await Filterd.main()
