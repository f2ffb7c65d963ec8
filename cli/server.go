package cli

import (
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

	"capship/server"
	"capship/store"
)

// serveGCPercent is the garbage collector's target for `capship serve`.
const serveGCPercent = 400

// serverCommands lists the "serve" command: the update server devices talk to.
func serverCommands() []Command {
	return []Command{
		{Name: "serve", Usage: "[--addr 127.0.0.1:8080] [--db PATH | --db postgres://…] [--tls-cert FILE --tls-key FILE] [--stats-retention 2160h] [--max-overrides 100000] [--override-expiry 2160h] [--json]",
			Summary: "run the update server for devices and the admin API", Run: runServe},
	}
}

func runServe(ctx context.Context, s IO, args []string) error {
	fs := newFlags(s, "serve", serverCommands()[0].Usage, "Run the update server that devices running @capgo/capacitor-updater talk to.\n"+
		"Point an app at it with 'capship config set-server URL'. Stops cleanly on Ctrl-C or SIGTERM.")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	db := fs.String("db", "", "registry: SQLite file or postgres:// URL (default $CAPSHIP_DB, else "+store.DefaultDBPath()+")")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate chain (PEM)")
	keyFile := fs.String("tls-key", "", "private key of --tls-cert (PEM)")
	cacheTTL := fs.Duration("cache-ttl", 2*time.Second, "ignored: device channel overrides set through any instance apply at the next check (kept so old command lines run)")
	maxOverrides := fs.Int("max-overrides", 100000, "most device channel overrides (channel_self) per app; past it new devices get too_many_overrides; 0: no cap")
	overrideExpiry := fs.Duration("override-expiry", 90*24*time.Hour, "delete device channel overrides neither set nor used for this long (hourly, in small batches); 0 keeps them")
	retention := fs.Duration("stats-retention", 90*24*time.Hour, "delete device stats events older than this (hourly, in small batches); 0 keeps them all")
	asJSON := fs.Bool("json", false, "print {\"url\": …} on stdout once listening")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("unexpected argument %q", rest[0])
	}
	if (*certFile == "") != (*keyFile == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if *cacheTTL <= 0 || *cacheTTL > time.Hour {
		return usageError("--cache-ttl must be between 1ms and 1h, not %s", *cacheTTL)
	}
	if *maxOverrides < 0 || *overrideExpiry < 0 {
		return usageError("--max-overrides and --override-expiry must be 0 (no limit) or positive")
	}
	if *retention < 0 {
		return usageError("--stats-retention must be 0 (keep every event) or positive, not %s", *retention)
	}
	var tlsConfig *tls.Config
	var certs *certReloader // reloaded on SIGHUP
	if *certFile != "" {
		var err error
		if certs, err = loadCertReloader(*certFile, *keyFile); err != nil {
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
	dsn := dbLocation(s, *db)
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
	srv, err := server.New(server.Config{Registry: reg, Logger: logger, AccessLog: logs, CacheTTL: *cacheTTL, StatsRetention: *retention,
		MaxOverrides: *maxOverrides, OverrideExpiry: *overrideExpiry, TLSConfig: tlsConfig})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Close()
		hint := "give --addr as host:port, such as 127.0.0.1:8080 or :443"
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = "another program uses that port: pick another with --addr"
		}
		return fmt.Errorf("listen on %s: %w (%s)", *addr, err, hint)
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
	if *asJSON {
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
