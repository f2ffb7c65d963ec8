package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"capship/store"
)

// statsOptions are the flags of stats.
type statsOptions struct {
	registryOptions
	since string
}

func newStatsCmd(s IO) *cobra.Command {
	o := &statsOptions{}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Device downloads, installs and failures per release",
		Long: "Summarize what devices reported, per bundle version: downloads, installs, failures by kind,\n" +
			"from the local registry (--db) or a capship server's admin API (--server and --token).",
		Example: "  capship stats --app com.example.shop --since 24h\n  capship stats --since 2026-01-31 --json\n  CAPSHIP_SERVER=https://updates.example.com CAPSHIP_TOKEN=… capship stats --app com.example.shop",
		GroupID: groupReleases,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runStats(cmd.Context(), s, o) },
	}
	cmd.Flags().StringVar(&o.since, "since", "", "only events after this: a duration back from now (24h) or a date (2006-01-02)")
	addRegistryFlags(cmd.Flags(), &o.registryOptions, withApp|withServer)
	return cmd
}

// knownApp refuses an app the registry has neither a release nor a
// channel of: a mistyped --app, more likely than an app without events.
func knownApp(ctx context.Context, reg store.Manager, app string) error {
	releases, err := reg.Releases(ctx, app)
	if err != nil || len(releases) > 0 {
		return err
	}
	channels, err := reg.Channels(ctx, app)
	if err != nil || len(channels) > 0 {
		return err
	}
	return missing(fmt.Errorf("%w: no release or channel of %s", store.ErrNotFound, app), whatApp, app)
}

// parseSince reads --since: a duration back from now (24h, 90m) or a date.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError("--since %q: give a duration such as 24h or a date such as 2026-01-31", v)
}

// statsResult is the --json shape of stats; Since is null without --since.
type statsResult struct {
	AppID    string               `json:"app_id"`
	Since    *time.Time           `json:"since"`
	Releases []store.ReleaseStats `json:"releases"`
}

func runStats(ctx context.Context, s IO, o *statsOptions) error {
	since, err := parseSince(o.since, time.Now())
	if err != nil {
		return err
	}
	app, reg, err := o.openApp(ctx, s, reads)
	if err != nil {
		return err
	}
	defer reg.Close()
	stats, err := reg.Stats(ctx, app, since)
	if err != nil {
		return err
	}
	if len(stats) == 0 {
		if err := knownApp(ctx, reg, app); err != nil {
			return err
		}
	}
	if o.json {
		return writeJSON(s.Out, statsResult{AppID: app, Since: timeOrNil(since), Releases: nonNil(stats)})
	}
	if len(stats) == 0 {
		fmt.Fprintf(s.Err, "no device events for %s yet: devices report to the statsUrl of the app's Capacitor config ('capship config set-server URL' sets it to your server)\n", app)
		return nil
	}
	failure := map[string]bool{}
	for _, a := range store.FailureActions {
		failure[a] = true
	}
	rows := make([][]string, 0, len(stats))
	for _, st := range stats {
		var kinds []string
		for action, n := range st.ByAction {
			if failure[action] {
				kinds = append(kinds, fmt.Sprintf("%s %d", action, n))
			}
		}
		sort.Strings(kinds)
		// Delta downloads (spec §6): complete of started. Their failures
		// are among FAILURES.
		delta := "-"
		if started, complete := st.ByAction["download_manifest_start"], st.ByAction["download_manifest_complete"]; started+complete > 0 {
			delta = fmt.Sprintf("%d/%d", complete, started)
		}
		rows = append(rows, []string{st.Version, strconv.FormatInt(st.Devices, 10), strconv.FormatInt(st.Downloads, 10), delta,
			strconv.FormatInt(st.Installs, 10), strconv.FormatInt(st.Failures, 10), dash(strings.Join(kinds, ", ")), when(&st.LastAt)})
	}
	table(s, "VERSION\tDEVICES\tDOWNLOADS\tDELTA\tINSTALLS\tFAILURES\tFAILURES BY KIND\tLAST EVENT", rows)
	return nil
}
