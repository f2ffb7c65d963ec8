package cli

// serverCommands lists the "server" commands. Placeholder until that group lands.
func serverCommands() []Command { return nil }
