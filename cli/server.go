package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"capship/server"
	"capship/store"
)

// serveGCPercent is the garbage collector's target for `capship serve`.
const serveGCPercent = 400

// serveOptions are the flags of serve.
type serveOptions struct {
	addr, db, certFile, keyFile string
	cacheTTL, retention         time.Duration
	storage, publicURL          string
	maxObject                   int64
	maxOverrides                int
	overrideExpiry              time.Duration
	json                        bool
}

// newServeCmd is "serve": the update server devices talk to.
func newServeCmd(s IO) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the update server for devices and the admin API",
		Long: "Run the update server that devices running @capgo/capacitor-updater talk to, and the\n" +
			"admin API that 'release register --server' uses. Point an app at it with\n" +
			"'capship config set-server URL'. Stops cleanly on Ctrl-C or SIGTERM; SIGHUP reloads the\n" +
			"TLS certificate.",
		Example: "  capship serve --addr :443 --tls-cert fullchain.pem --tls-key privkey.pem --db postgres://capship@db/capship\n" +
			"  capship serve --addr 127.0.0.1:0 --json     # prints {\"url\": …} once listening",
		GroupID: groupServer,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), s, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	addDBFlag(fs, &o.db)
	fs.StringVar(&o.certFile, "tls-cert", "", "serve HTTPS with this certificate chain (PEM `file`)")
	fs.StringVar(&o.keyFile, "tls-key", "", "private key of --tls-cert (PEM `file`)")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 2*time.Second, "ignored: device channel overrides set through any instance apply at the next check (kept so old command lines run)")
	fs.IntVar(&o.maxOverrides, "max-overrides", 100000, "most device channel overrides (channel_self) per app; past it new devices get too_many_overrides; 0: no cap")
	fs.DurationVar(&o.overrideExpiry, "override-expiry", 90*24*time.Hour, "delete device channel overrides neither set nor used for this long (hourly, in small batches); 0 keeps them")
	fs.DurationVar(&o.retention, "stats-retention", 90*24*time.Hour, "delete device stats events older than this (hourly, in small batches); 0 keeps them all")
	fs.StringVar(&o.storage, "storage", "", "host bundles and delta objects in this `folder` (uploads: PUT /admin/v1/objects/KEY with a token; downloads: GET /bundles/KEY)")
	fs.StringVar(&o.publicURL, "public-url", "", "the `URL` at which devices reach /bundles, e.g. https://updates.example.com/bundles behind a TLS proxy (default: the listen address)")
	fs.Int64Var(&o.maxObject, "max-object-size", 1<<30, "largest object --storage takes, in `bytes`")
	addJSONFlag(fs, &o.json, "print {\"url\": …} on stdout once listening")
	return cmd
}

func runServe(ctx context.Context, s IO, o *serveOptions) error {
	if (o.certFile == "") != (o.keyFile == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if o.cacheTTL <= 0 || o.cacheTTL > time.Hour {
		return usageError("--cache-ttl must be between 1ms and 1h, not %s", o.cacheTTL)
	}
	if o.storage == "" && o.publicURL != "" {
		return usageError("--public-url goes with --storage DIR")
	}
	if o.maxObject <= 0 {
		return usageError("--max-object-size must be a positive number of bytes, not %d", o.maxObject)
	}
	if o.maxOverrides < 0 || o.overrideExpiry < 0 {
		return usageError("--max-overrides and --override-expiry must be 0 (no limit) or positive")
	}
	if o.retention < 0 {
		return usageError("--stats-retention must be 0 (keep every event) or positive, not %s", o.retention)
	}
	var tlsConfig *tls.Config
	var certs *certReloader // reloaded on SIGHUP
	if o.certFile != "" {
		var err error
		if certs, err = loadCertReloader(o.certFile, o.keyFile); err != nil {
			return err
		}
		tlsConfig = &tls.Config{GetCertificate: certs.getCertificate, MinVersion: tls.VersionTLS12}
	}

	// An update check allocates a few KiB and keeps none of it, while the
	// live heap stays a few MiB: at Go's default (GOGC=100) the collector
	// runs every few hundred checks. A larger target takes that work off
	// the request path for some tens of MiB; GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	dsn := (&registryOptions{db: o.db}).localLocation(s)
	reg, err := store.Open(ctx, dsn)
	if err != nil {
		return err // store names the registry (never a password) and says what to check
	}
	defer reg.Close()

	logs := server.NewLogBuffer(s.Err, 200*time.Millisecond) // one JSON line per request, written in batches
	defer logs.Close()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	if certs != nil {
		hupCtx, stopHUP := context.WithCancel(ctx)
		defer stopHUP()
		certs.watchSIGHUP(hupCtx, logger)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: logger, AccessLog: logs, CacheTTL: o.cacheTTL, StatsRetention: o.retention, TLSConfig: tlsConfig,
		MaxOverrides: o.maxOverrides, OverrideExpiry: o.overrideExpiry,
		Storage: o.storage, PublicURL: o.publicURL, MaxObjectSize: o.maxObject})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		srv.Close()
		hint := "give --addr as host:port, such as 127.0.0.1:8080 or :443"
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = "another program uses that port: pick another with --addr"
		}
		return fmt.Errorf("listen on %s: %w (%s)", o.addr, err, hint)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(s.Err, "capship serve: listening on %s (registry %s)\n", base, store.RedactDSN(dsn))
	if loopbackAddr(ln.Addr()) {
		fmt.Fprintf(s.Err, "  point an app at it: capship config set-server %s\n", base)
	} else {
		fmt.Fprintf(s.Err, "  point an app at it: capship config set-server https://YOUR-HOST (the address devices reach, with TLS)\n")
	}
	if tlsConfig == nil && !loopbackAddr(ln.Addr()) {
		fmt.Fprintln(s.Err, "  warning: plain HTTP on a public address; devices need HTTPS: pass --tls-cert/--tls-key or put a TLS reverse proxy in front")
	}
	if o.storage != "" {
		fmt.Fprintf(s.Err, "  hosting bundles from %s at %s\n", o.storage, cmp.Or(o.publicURL, base+"/bundles"))
	}
	if o.json {
		if err := writeJSON(s.Out, map[string]string{"url": base}); err != nil {
			ln.Close()
			srv.Close()
			return err
		}
	}
	err = srv.Serve(ctx, ln)
	logs.Close()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(s.Err, "capship serve: stopped")
	return nil
}

// loopbackAddr reports whether a listener only takes local connections.
func loopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
