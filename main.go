// Command capship builds, verifies, hosts and registers live updates for
// Capacitor apps running @capgo/capacitor-updater, on your own infrastructure.
//
// main is wiring only: it hands the arguments and the process's I/O to the
// cli package and exits with the code it returns.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"capship/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C (or SIGTERM) cancels ctx for a graceful stop; from
	// then on the default handling is back, so a second one ends the
	// process at once.
	go func() { <-ctx.Done(); stop() }()
	code := cli.Run(ctx, os.Args[1:], cli.StdIO())
	stop()
	os.Exit(code)
}
