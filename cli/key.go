package cli

// keyCommands lists the "key" commands. Placeholder until that group lands.
func keyCommands() []Command { return nil }
