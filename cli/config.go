package cli

// configCommands lists the "config" commands. Placeholder until that group lands.
func configCommands() []Command { return nil }
