package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"capship/store"
)

// newChannelCmd is "channel": create, list, set, history.
func newChannelCmd(s IO) *cobra.Command {
	return newParentCmd("channel", "Create and change release channels",
		"A channel is what a group of devices follows: a release, a rollout share, the platforms\n"+
			"it serves and whether devices may pick it themselves. Every command works on the local\n"+
			"registry (--db) or on a capship server's admin API (--server and --token, or\n"+
			"$CAPSHIP_SERVER and $CAPSHIP_TOKEN).",
		groupReleases,
		newChannelCreateCmd(s), newChannelListCmd(s), newChannelSetCmd(s), newChannelHistoryCmd(s))
}

// channelSettingFlags are the flags of channel create and set.
type channelSettingFlags struct {
	rollout                                            int
	platforms                                          string
	public, selfSet, emulator, dev, underNative, delta bool
}

// addChannelSettingFlags adds the settings flags; withDefaults shows the
// defaults of a new channel (channel set changes only the flags given).
func addChannelSettingFlags(fs *pflag.FlagSet, withDefaults bool) *channelSettingFlags {
	d, platforms := store.DefaultChannelSettings(), "ios,android,electron"
	if !withDefaults {
		d, platforms = store.Channel{}, ""
	}
	f := &channelSettingFlags{}
	fs.IntVar(&f.rollout, "rollout", d.Rollout, "`percentage` of devices (stable by device id) that get the current release; the others keep the previous one")
	fs.BoolVar(&f.public, "public", d.Public, "default channel for devices that name none (one per platform)")
	fs.BoolVar(&f.selfSet, "self-set", d.AllowSelfSet, "devices may switch themselves to this channel")
	fs.StringVar(&f.platforms, "platforms", platforms, "platforms the channel serves, comma-separated")
	fs.BoolVar(&f.emulator, "emulator", d.AllowEmulator, "serve emulators and simulators")
	fs.BoolVar(&f.dev, "dev", d.AllowDev, "serve development builds (is_prod false)")
	fs.BoolVar(&f.underNative, "disable-under-native", d.DisableUnderNative, "never send a version lower than the native app's version")
	fs.BoolVar(&f.delta, "delta", d.Delta, "send releases registered with --files-url file by file to plugins that can take it (--delta=false: always the zip)")
	return f
}

// settings returns the settings whose flags were given on the command line.
func (f *channelSettingFlags) settings(fs *pflag.FlagSet) (store.ChannelSettings, error) {
	var set store.ChannelSettings
	var err error
	fs.Visit(func(fl *pflag.Flag) {
		switch fl.Name {
		case "rollout":
			set.Rollout = &f.rollout
		case "public":
			set.Public = &f.public
		case "self-set":
			set.AllowSelfSet = &f.selfSet
		case "emulator":
			set.AllowEmulator = &f.emulator
		case "dev":
			set.AllowDev = &f.dev
		case "disable-under-native":
			set.DisableUnderNative = &f.underNative
		case "delta":
			set.Delta = &f.delta
		case "platforms":
			ios, android, electron := false, false, false
			for _, p := range strings.Split(f.platforms, ",") {
				switch strings.ToLower(strings.TrimSpace(p)) {
				case store.PlatformIOS:
					ios = true
				case store.PlatformAndroid:
					android = true
				case store.PlatformElectron:
					electron = true
				case "":
				default:
					err = usageError("--platforms: unknown platform %q (use ios, android, electron)", p)
				}
			}
			set.IOS, set.Android, set.Electron = &ios, &android, &electron
		}
	})
	return set, err
}

func newChannelCreateCmd(s IO) *cobra.Command {
	return newChannelWriteCmd(s, true, &cobra.Command{
		Use:     "create NAME",
		Short:   "Add a release channel",
		Long:    "Add a release channel; register or promote a release to it.",
		Example: "  capship channel create beta --app com.example.shop --self-set --rollout 10",
	})
}

func newChannelSetCmd(s IO) *cobra.Command {
	return newChannelWriteCmd(s, false, &cobra.Command{
		Use:     "set NAME",
		Short:   "Change a channel's rollout, default and filters",
		Long:    "Change a channel's settings; flags not given stay as they are.",
		Example: "  capship channel set production --rollout 50 --app com.example.shop\n  capship channel set beta --public --dev=false",
	})
}

// newChannelWriteCmd completes create (create true) or set.
func newChannelWriteCmd(s IO, create bool, cmd *cobra.Command) *cobra.Command {
	o := &registryOptions{}
	cf := addChannelSettingFlags(cmd.Flags(), create)
	addRegistryFlags(cmd.Flags(), o, withApp|withServer)
	cmd.Args = exactlyOne("channel NAME")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		set, err := cf.settings(cmd.Flags())
		if err != nil {
			return err
		}
		if !create && set == (store.ChannelSettings{}) {
			return usageError("nothing to change: give at least one of --rollout, --public, --self-set, --platforms, --emulator, --dev, --disable-under-native, --delta")
		}
		return writeChannel(cmd.Context(), s, o, args[0], set, create)
	}
	return cmd
}

func writeChannel(ctx context.Context, s IO, o *registryOptions, channel string, set store.ChannelSettings, create bool) error {
	a := changes
	if create {
		a = creates
	}
	app, reg, err := o.openApp(ctx, s, a)
	if err != nil {
		return err
	}
	defer reg.Close()
	var ch *store.Channel
	if create {
		ch, err = reg.CreateChannel(ctx, app, channel, set)
	} else {
		ch, err = reg.UpdateChannel(ctx, app, channel, set)
		err = missing(err, whatChannel, channel)
	}
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(s.Out, ch)
	}
	verb := "changed"
	if create {
		verb = "created"
	}
	fmt.Fprintf(s.Err, "%s channel %s of %s\n", verb, channel, app)
	printChannels(s, []store.Channel{*ch})
	return nil
}

func newChannelListCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List an app's channels and their settings",
		Example: "  capship channel list --app com.example.shop",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runChannelList(cmd.Context(), s, o) },
	}
	addRegistryFlags(cmd.Flags(), o, withApp|withServer)
	return cmd
}

func runChannelList(ctx context.Context, s IO, o *registryOptions) error {
	app, reg, err := o.openApp(ctx, s, reads)
	if err != nil {
		return err
	}
	defer reg.Close()
	channels, err := reg.Channels(ctx, app)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(s.Out, map[string]any{"app_id": app, "channels": nonNil(channels)})
	}
	if len(channels) == 0 {
		fmt.Fprintf(s.Err, "%s has no channels yet: 'capship release register' creates one\n", app)
		return nil
	}
	printChannels(s, channels)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printChannels(s IO, channels []store.Channel) {
	rows := make([][]string, 0, len(channels))
	for _, c := range channels {
		var platforms []string
		for _, p := range []string{store.PlatformIOS, store.PlatformAndroid, store.PlatformElectron} {
			if c.ServesPlatform(p) {
				platforms = append(platforms, p)
			}
		}
		rows = append(rows, []string{c.Name, versionOf(c.Release), versionOf(c.Previous), strconv.Itoa(c.Rollout) + "%",
			yesNo(c.Public), yesNo(c.AllowSelfSet), dash(strings.Join(platforms, ",")), yesNo(c.AllowEmulator),
			yesNo(c.AllowDev), yesNo(c.DisableUnderNative), yesNo(c.Delta)})
	}
	table(s, "CHANNEL\tRELEASE\tPREVIOUS\tROLLOUT\tPUBLIC\tSELF-SET\tPLATFORMS\tEMULATOR\tDEV\tNOT UNDER NATIVE\tDELTA", rows)
}

func newChannelHistoryCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:     "history NAME",
		Short:   "Show what a channel served and when",
		Long:    "Show what a channel served and when, oldest first.",
		Example: "  capship channel history production --app com.example.shop",
		Args:    exactlyOne("channel NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runChannelHistory(cmd.Context(), s, o, args[0])
		},
	}
	addRegistryFlags(cmd.Flags(), o, withApp|withServer)
	return cmd
}

func runChannelHistory(ctx context.Context, s IO, o *registryOptions, channel string) error {
	app, reg, err := o.openApp(ctx, s, reads)
	if err != nil {
		return err
	}
	defer reg.Close()
	history, err := reg.History(ctx, app, channel)
	if err != nil {
		return missing(err, whatChannel, channel)
	}
	if o.json {
		return writeJSON(s.Out, map[string]any{"app_id": app, "channel": channel, "history": nonNil(history)})
	}
	rows := make([][]string, 0, len(history))
	for _, h := range history {
		rows = append(rows, []string{when(&h.At), h.Action, h.Version, when(h.RolledBackAt)})
	}
	table(s, "WHEN\tACTION\tVERSION\tROLLED BACK", rows)
	return nil
}
