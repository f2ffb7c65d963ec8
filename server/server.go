// Package server is the update server that devices running the unmodified
// @capgo/capacitor-updater plugin talk to (spec §3–4: /updates, /stats,
// /channel_self), plus health checks and the authenticated admin API that
// `capship release register --server` uses.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"capship/store"
)

// Config is the server's settings; zero values take the defaults below.
type Config struct {
	Registry  store.Registry // required
	Logger    *slog.Logger   // warnings and errors; default: discard
	AccessLog io.Writer      // one JSON line per request (slog's JSON shape); default: discard

	// CacheTTL is no longer used: device overrides (channel_self), like
	// releases and channels, are confirmed current on every update check
	// (see appCache). Kept so that existing settings still build.
	CacheTTL time.Duration

	// MaxOverrides caps each app's device channel overrides: past it a
	// device that has none gets too_many_overrides (kind blocked) from
	// channel_self. Zero (the default here; serve's flag defaults to
	// 100,000) sets no cap.
	MaxOverrides int
	// OverrideExpiry deletes device channel overrides neither set nor used
	// by their device for this long, at start and hourly, in small
	// transactions. Zero (the default here; serve's flag defaults to 90
	// days) keeps them.
	OverrideExpiry time.Duration

	MaxBodyBytes      int64 // device requests (updates, channel_self); default 64 KiB
	MaxStatsBodyBytes int64 // stats batches (up to 200 events); default 512 KiB
	MaxAdminBodyBytes int64 // admin API (a release of 15,000 files is about 11 MB); default 16 MiB

	// MaxInFlight caps device requests being handled at once; past it
	// devices get 429 with Retry-After, which makes the plugin back off.
	// Default 2048.
	MaxInFlight int

	StatsQueue         int           // events buffered before /stats answers 503; default 20000
	StatsBatch         int           // events written per transaction; default 500
	StatsFlushInterval time.Duration // longest an event waits in the queue; default 250ms
	// StatsRetention deletes device events older than this, at start and
	// hourly, in small transactions. Zero (the default here; serve's flag
	// defaults to 90 days) keeps every event.
	StatsRetention time.Duration

	ReadHeaderTimeout time.Duration // default 5s
	ReadTimeout       time.Duration // default 15s
	WriteTimeout      time.Duration // default 15s
	IdleTimeout       time.Duration // default 120s
	ShutdownTimeout   time.Duration // grace period for in-flight requests; default 10s

	TLSConfig *tls.Config // serve HTTPS with it when set

	// Storage is the folder where the server keeps the bundles and delta
	// objects it hosts (storage*.go); empty: it hosts none.
	Storage string
	// PublicURL is the address at which devices reach /bundles (behind a
	// TLS proxy, say); default: the listen address.
	PublicURL     string
	MaxObjectSize int64 // largest upload; default 1 GiB
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setN := func(n *int64, v int64) {
		if *n <= 0 {
			*n = v
		}
	}
	set(&c.StatsFlushInterval, 250*time.Millisecond)
	set(&c.ReadHeaderTimeout, 5*time.Second)
	set(&c.ReadTimeout, 15*time.Second)
	set(&c.WriteTimeout, 15*time.Second)
	set(&c.IdleTimeout, 120*time.Second)
	set(&c.ShutdownTimeout, 10*time.Second)
	setN(&c.MaxBodyBytes, 64<<10)
	setN(&c.MaxStatsBodyBytes, 512<<10)
	setN(&c.MaxAdminBodyBytes, 16<<20)
	setN(&c.MaxObjectSize, 1<<30)
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2048
	}
	if c.StatsQueue <= 0 {
		c.StatsQueue = 20000
	}
	if c.StatsBatch <= 0 {
		c.StatsBatch = 500
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AccessLog == nil {
		c.AccessLog = io.Discard
	}
}

// Server answers devices and the admin API from a registry.
type Server struct {
	cfg     Config
	reg     store.Registry
	log     *slog.Logger
	access  *accessLog
	apps    *appCache
	watch   *store.Watch // nil when the registry cannot be watched
	stats   *statsWriter
	handler http.Handler
	closeMu sync.Once

	storage   *objectStore           // nil without Config.Storage
	listenURL atomic.Pointer[string] // default public URL, set by Serve

	inFlight atomic.Int64
	health   registryHealth // is the registry file damaged (integrity.go)
}

// New builds a server and starts its stats writer; Close (or Serve's
// return) stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		return nil, errors.New("new server: no registry")
	}
	cfg.defaults()
	storage, err := storageSettings(&cfg)
	if err != nil {
		return nil, err
	}
	// Without a watch (PostgreSQL, or a folder that cannot be watched)
	// every check reads the revision; answers are as fresh, only dearer.
	watch, err := store.WatchChanges(cfg.Registry)
	if err != nil {
		cfg.Logger.Warn("cannot watch the registry file; every update check reads its revision", "err", err.Error())
	}
	s := &Server{
		cfg:    cfg,
		reg:    cfg.Registry,
		log:    cfg.Logger,
		watch:  watch,
		access: newAccessLog(cfg.AccessLog),
		apps:   newAppCache(cfg.Registry, watch, cfg.Logger, cfg.OverrideExpiry),

		storage: storage,
	}
	s.stats = newStatsWriter(cfg.Registry, cfg.Logger, cfg.StatsQueue, cfg.StatsBatch, cfg.StatsFlushInterval, cfg.StatsRetention)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler (every route, with logging).
func (s *Server) Handler() http.Handler { return s.handler }

// Close flushes buffered stats events to the registry and stops the stats
// writer. It does not close the registry.
func (s *Server) Close() error {
	var err error
	s.closeMu.Do(func() {
		err = s.stats.close()
		s.apps.close()
		if s.watch != nil {
			s.watch.Close()
		}
		if s.storage != nil {
			s.storage.close()
		}
	})
	return err
}

// Serve answers requests on ln until ctx is cancelled, then stops taking
// new connections, lets in-flight requests finish (up to ShutdownTimeout)
// and flushes stats. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         s.cfg.TLSConfig,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.setListenURL(ln)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	var err error
	select {
	case err = <-errc: // the listener failed
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		err = hs.Shutdown(sctx)
		cancel()
		if err != nil {
			err = fmt.Errorf("shut down server: %w", err)
			hs.Close()
		}
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /updates", s.limit(s.handleUpdates))
	mux.HandleFunc("POST /stats", s.limit(s.handleStats))
	mux.HandleFunc("PUT /channel_self", s.limit(s.handleChannelGet))
	mux.HandleFunc("POST /channel_self", s.limit(s.handleChannelSet))
	mux.HandleFunc("DELETE /channel_self", s.limit(s.handleChannelUnset))
	mux.HandleFunc("GET /channel_self", s.limit(s.handleChannelList))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	s.storageRoutes(mux)
	s.adminRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow, ok := allowedMethods[r.URL.Path]; ok {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, encodeError("method_not_allowed", r.Method+" is not allowed here; use "+allow))
			return
		}
		writeJSON(w, http.StatusNotFound, encodeError("not_found", "no such endpoint: devices use /updates, /stats and /channel_self"))
	})
	return s.logRequests(mux)
}

// limit answers 429 with Retry-After when MaxInFlight device requests are
// already being handled (a slow database, a burst of app starts), so devices
// back off instead of piling up.
func (s *Server) limit(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if n > int64(s.cfg.MaxInFlight) {
			noteCode(w, codeTooManyRequests)
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusTooManyRequests, encodeError(codeTooManyRequests, "the update server is busy; try again later"))
			return
		}
		h(w, r)
	}
}

// allowedMethods answers 405 (not 404) for a known path used with the
// wrong method.
var allowedMethods = map[string]string{
	"/updates":      "POST",
	"/stats":        "POST",
	"/channel_self": "GET, PUT, POST, DELETE",
	"/livez":        "GET",
	"/readyz":       "GET",
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.reg.Ping(ctx); err != nil {
		s.log.Warn("registry not ready", "err", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, encodeError("not_ready", "the registry database does not answer"))
		return
	}
	if problem := s.registryDamaged(); problem != "" {
		writeJSON(w, http.StatusServiceUnavailable, encodeError("registry_damaged", "the registry file is damaged: "+problem))
		return
	}
	if err := s.stats.health(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, encodeError("not_ready", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// writeJSON sends a JSON body with an exact Content-Length.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(body)
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// badRequest answers a body that is not what the plugin sends.
func badRequest(w http.ResponseWriter, err error) {
	noteCode(w, codeInvalidRequest)
	writeJSON(w, http.StatusBadRequest, encodeError(codeInvalidRequest, err.Error()))
}

// readBody reads at most limit bytes of the request body. It answers 413
// (and returns false) past the limit, and 400 when the body breaks off.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, bool) {
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeJSON(w, http.StatusRequestEntityTooLarge, encodeError(codePayloadTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit)))
			} else {
				writeJSON(w, http.StatusBadRequest, encodeError(codeInvalidRequest, "could not read the request body"))
			}
			return nil, false
		}
	}
}

// bodyPool recycles request body buffers on the hot path.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// recorder captures what the request log line needs.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	appID  string
	device string
	code   string // protocol answer code, "" for an update
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// note records the app and device of a request for its log line. The device
// id is logged only as a short hash: enough to follow one device, useless to
// anyone reading the logs for identifiers.
func note(w http.ResponseWriter, appID, deviceID string) {
	if rec, ok := w.(*recorder); ok {
		rec.appID = appID
		if deviceID != "" {
			sum := sha256.Sum256([]byte(deviceID))
			rec.device = hex.EncodeToString(sum[:6])
		}
	}
}

func noteCode(w http.ResponseWriter, code string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// logRequests writes one access log line per request: never a body, a
// token or a raw device id.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorderPool.Get().(*recorder)
		*rec = recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.access.write(&accessLine{at: start, method: r.Method, path: r.URL.Path, status: rec.status,
			took: time.Since(start), bytes: rec.bytes, appID: rec.appID, device: rec.device, answer: rec.code})
		*rec = recorder{}
		recorderPool.Put(rec)
	})
}
