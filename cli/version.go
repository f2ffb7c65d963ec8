package cli

// Version is the capship release; set with -ldflags "-X capship/cli.Version=…".
var Version = "0.1.0-dev"
