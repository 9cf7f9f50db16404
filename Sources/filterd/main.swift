print("filterd")
