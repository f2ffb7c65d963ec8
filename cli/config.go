package cli

import (
	"context"
	"fmt"

	"capship/workflow"
)

// configCommands lists the "config" commands, which edit the app's
// Capacitor config in place.
func configCommands() []Command {
	return []Command{
		{Name: "config set-server", Usage: "[--config PATH] [--json] URL",
			Summary: "point the app's updater plugin at a capship server", Run: runConfigSetServer},
		{Name: "config set-key", Usage: "[--app APP_ID] [--config PATH]",
			Summary: "write the keychain key's public half into the config", Run: runConfigSetKey},
	}
}

func runConfigSetServer(ctx context.Context, s IO, args []string) error {
	const name, summary = "config set-server", "Point the app's updater plugin at the capship server at URL: writes\nplugins.CapacitorUpdater.updateUrl (URL/updates), statsUrl (URL/stats) and channelUrl\n(URL/channel_self). Without statsUrl the plugin sends its statistics to Capgo's cloud."
	fs := newFlags(s, name, configCommands()[0].Usage, summary)
	kf := addKeyFlags(fs, configFlag)
	asJSON := fs.Bool("json", false, "print the URLs written as JSON on stdout")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	base, err := one(rest, "server URL")
	if err != nil {
		return err
	}
	urls, warning, err := workflow.ServerURLsFor(base)
	if err != nil {
		return usageError("%s", err)
	}
	p, err := kf.project()
	if err != nil {
		return fmt.Errorf("set server: %w", err)
	}
	if p == nil {
		return usageError("no Capacitor config in this folder: run it in the app's folder or pass --config PATH")
	}
	if warning != "" {
		fmt.Fprintf(s.Err, "warning: %s\n", warning)
	}
	if err := workflow.SetServer(p.ConfigPath, base); err != nil {
		return err // a refused edit names the file and carries the snippet to paste
	}
	fmt.Fprintf(s.Err, "wrote to %s (plugins.CapacitorUpdater):\n  updateUrl:  %s\n  statsUrl:   %s\n  channelUrl: %s\n",
		p.ConfigPath, urls.UpdateURL, urls.StatsURL, urls.ChannelURL)
	fmt.Fprintf(s.Err, "next: run 'npx cap sync' so the native projects pick it up\n")
	if *asJSON {
		return writeJSON(s.Out, struct {
			Config string `json:"config"`
			workflow.ServerURLs
		}{p.ConfigPath, urls})
	}
	return nil
}

func runConfigSetKey(ctx context.Context, s IO, args []string) error {
	const name, summary = "config set-key", "Write the public half of the app's key in the OS keychain into the Capacitor config\n(plugins.CapacitorUpdater.publicKey), replacing whatever public key is there."
	fs := newFlags(s, name, configCommands()[1].Usage, summary)
	kf := addKeyFlags(fs, appFlag|configFlag)
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	p, appID, err := kf.configApp("set key")
	if err != nil {
		return err
	}
	key, err := storedKey(openKeychain(s), "set key", appID)
	if err != nil {
		return err
	}
	if _, status, _ := configStatus(p, appID, &key.PublicKey); status == "match" {
		fmt.Fprintf(s.Err, "%s already carries the public key %s\n", p.ConfigPath, workflow.KeyID(&key.PublicKey))
		return nil
	}
	if err := writePublicKey(s, p.ConfigPath, &key.PublicKey); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "key id %s, fingerprint %s\n", workflow.KeyID(&key.PublicKey), workflow.Fingerprint(&key.PublicKey))
	return nil
}
