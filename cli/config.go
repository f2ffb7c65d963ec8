package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"capship/store/release"
	"capship/workflow"
)

// newConfigCmd is "config", which edits the app's Capacitor config in
// place.
func newConfigCmd(s IO) *cobra.Command {
	return newParentCmd("config", "Edit the app's Capacitor config",
		"Write what devices need into plugins.CapacitorUpdater of the app's Capacitor config.",
		groupSetup, newConfigSetServerCmd(s), newConfigSetKeyCmd(s))
}

// configOptions are the flags of the config commands.
type configOptions struct {
	keyFlags
	json bool
}

func newConfigSetServerCmd(s IO) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "set-server URL",
		Short: "Point the app's updater plugin at a capship server",
		Long: "Point the app's updater plugin at the capship server at URL: writes\n" +
			"plugins.CapacitorUpdater.updateUrl (URL/updates), statsUrl (URL/stats) and channelUrl\n" +
			"(URL/channel_self). Without statsUrl the plugin sends its statistics to Capgo's cloud.",
		Example: "  capship config set-server https://updates.example.com && npx cap sync",
		Args:    exactlyOne("server URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigSetServer(cmd.Context(), s, o, args[0])
		},
	}
	addKeyFlags(cmd.Flags(), &o.keyFlags, configFlag)
	addJSONFlag(cmd.Flags(), &o.json, "print the URLs written as JSON on stdout")
	return cmd
}

func newConfigSetKeyCmd(s IO) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "set-key",
		Short: "Write the keychain key's public half into the config",
		Long: "Write the public half of the app's key in the OS keychain into the Capacitor config\n" +
			"(plugins.CapacitorUpdater.publicKey), replacing whatever public key is there.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runConfigSetKey(cmd.Context(), s, o) },
	}
	addKeyFlags(cmd.Flags(), &o.keyFlags, appFlag|configFlag)
	return cmd
}

func runConfigSetServer(ctx context.Context, s IO, o *configOptions, base string) error {
	urls, warning, err := workflow.ServerURLsFor(base)
	if err != nil {
		return usageError("%s", err)
	}
	p, err := o.project()
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
	if o.json {
		return writeJSON(s.Out, struct {
			Config string `json:"config"`
			workflow.ServerURLs
		}{p.ConfigPath, urls})
	}
	return nil
}

func runConfigSetKey(ctx context.Context, s IO, o *configOptions) error {
	p, appID, err := o.configApp("set key")
	if err != nil {
		return err
	}
	f, err := release.WritePublicKey(openKeychain(s), release.KeyRequest{AppID: appID, ConfigPath: p.ConfigPath, ConfigPublicKey: p.PublicKey})
	if err != nil {
		return err
	}
	if !f.ConfigWritten {
		fmt.Fprintf(s.Err, "%s already carries the public key %s\n", p.ConfigPath, f.KeyID)
		return nil
	}
	saidConfigWrite(s, f)
	fmt.Fprintf(s.Err, "key id %s, fingerprint %s\n", f.KeyID, f.KeyFingerprint)
	return nil
}
