package cli

// releaseCommands lists the "release" commands. Placeholder until that group lands.
func releaseCommands() []Command { return nil }
