import FilterProcessors
import FilterdCommands

var processors = ProcessorRegistry.builtIn
processors.register(ShoutingSubject.self)
await Filterd.main(processors: processors)
