package cli

// wizardCommands lists the "wizard" commands. Placeholder until that group lands.
func wizardCommands() []Command { return nil }
