"""The tasks, one file each: trial logic, arguments and the Gymnasium classes of both arms."""
