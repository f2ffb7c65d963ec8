package cli

// bundleCommands lists the "bundle" commands. Placeholder until that group lands.
func bundleCommands() []Command { return nil }
