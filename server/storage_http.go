package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"capship/store"
)

// Object storage over HTTP (with --storage DIR):
//
//	GET|HEAD /bundles/KEY                anyone; Range, ETag, immutable caching
//	PUT      /admin/v1/objects/KEY       admin token; Content-Length and
//	                                     X-Capship-Sha256 required -> 201 new, 200 same bytes again,
//	                                     409 other bytes, 507 disk full
//	HEAD     /admin/v1/objects/KEY       admin token -> 200 with X-Capship-Sha256 and Content-Length, or 404
//
// KEY is APP_ID/ZIP_SHA256.zip or APP_ID/ZIP_SHA256.files/OBJECT. PUT
// answers {"key", "url", "size", "sha256"}, url being the object's address
// below the public URL.
func (s *Server) storageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /bundles/{key...}", s.handleObject) // and HEAD
	mux.HandleFunc("/bundles/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		adminError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use GET or HEAD (uploads go to PUT /admin/v1/objects/KEY)")
	})
	mux.HandleFunc("PUT /admin/v1/objects/{key...}", s.admin(s.adminPutObject))
	mux.HandleFunc("HEAD /admin/v1/objects/{key...}", s.admin(s.adminHeadObject))
}

// storageSettings checks the storage part of Config and opens the folder.
func storageSettings(cfg *Config) (*objectStore, error) {
	if cfg.Storage == "" {
		return nil, nil
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("public url %q: give the http(s) address at which devices reach /bundles, such as https://updates.example.com/bundles", cfg.PublicURL)
		}
	}
	return openObjectStore(cfg.Storage)
}

// setListenURL makes scheme://ADDR/bundles the public URL when none is
// configured and the listener has a specific address.
func (s *Server) setListenURL(ln net.Listener) {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if s.storage == nil || s.cfg.PublicURL != "" || !ok || tcp.IP.IsUnspecified() {
		return
	}
	scheme := "http"
	if s.cfg.TLSConfig != nil {
		scheme = "https"
	}
	u := scheme + "://" + tcp.String() + "/bundles"
	s.listenURL.Store(&u)
}

// objectURL is the address devices fetch key from: below --public-url,
// else the listen address, else (a handler without a listener, or one on
// every interface) the host the request came to.
func (s *Server) objectURL(r *http.Request, key string) string {
	base := s.cfg.PublicURL
	if base == "" {
		if p := s.listenURL.Load(); p != nil {
			base = *p
		} else {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host + "/bundles"
		}
	}
	return strings.TrimRight(base, "/") + "/" + key
}

// objectKey answers the request itself (and returns false) when storage
// is off or the key is not one of the two shapes.
func (s *Server) objectKey(w http.ResponseWriter, r *http.Request) (key, appID string, ok bool) {
	if s.storage == nil {
		adminError(w, http.StatusNotFound, "storage_off", "this server stores no bundles: start capship serve with --storage DIR (and --public-url URL) to host them")
		return "", "", false
	}
	key = r.PathValue("key")
	if r.URL.RawPath != "" {
		// A key is made of characters that never need escaping, so an
		// escape ("%2e%2e", "%2f") is an attempt to smuggle a path.
		adminError(w, http.StatusBadRequest, "invalid_key", "object key: escaped or unsafe characters (such as %2f, %2e or a backslash) are not allowed; keys are APP_ID/ZIP_SHA256.zip or APP_ID/ZIP_SHA256.files/OBJECT")
		return "", "", false
	}
	appID, err := parseObjectKey(key)
	if err != nil {
		adminError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return "", "", false
	}
	note(w, appID, "")
	return key, appID, true
}

const immutable = "public, max-age=31536000, immutable"

// handleObject serves a stored object to anyone with http.ServeContent:
// Range (206, resumes), ETag (If-None-Match, If-Range) and, on plain
// HTTP, sendfile.
func (s *Server) handleObject(w http.ResponseWriter, r *http.Request) {
	key, _, ok := s.objectKey(w, r)
	if !ok {
		return
	}
	f, fi, sum, err := s.storage.open(key)
	if err != nil {
		s.objectFail(w, key, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Cache-Control", immutable)
	if strings.HasSuffix(key, ".zip") {
		h.Set("Content-Type", "application/zip")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	pw.extend()
	http.ServeContent(pw, r, "", fi.ModTime(), f)
}

// adminPutObject stores an upload: streamed to a temp file, hashed and
// size-checked while written, then fsynced and linked into place.
func (s *Server) adminPutObject(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	key, appID, ok := s.objectKey(w, r)
	if !ok || !s.allowed(w, tok, appID) {
		return
	}
	size := r.ContentLength
	if size < 0 || size == 0 && r.Header.Get("Content-Length") == "" {
		adminError(w, http.StatusLengthRequired, "length_required", "send Content-Length: an upload is stored only when its size is known up front")
		return
	}
	if size > s.cfg.MaxObjectSize {
		adminError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the object is %d bytes, more than this server's --max-object-size of %d", size, s.cfg.MaxObjectSize))
		return
	}
	sum := r.Header.Get("X-Capship-Sha256")
	if !isSHA256Hex(sum) {
		adminError(w, http.StatusBadRequest, "invalid", "send X-Capship-Sha256: the sha256 of the body, 64 lowercase hex digits")
		return
	}
	rc := http.NewResponseController(w)
	body := &progressReader{r: r.Body, extend: rc.SetReadDeadline, timeout: s.cfg.ReadTimeout}
	created, err := s.storage.put(key, size, sum, body)
	rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if err != nil {
		s.objectFail(w, key, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.log.Info("object stored", "key", key, "size", size, "token", tok.Name)
	}
	noteCode(w, "stored")
	writeJSON(w, status, mustJSON(objectAnswer{Key: key, URL: s.objectURL(r, key), Size: size, SHA256: sum}))
}

// objectAnswer is what PUT answers.
type objectAnswer struct {
	Key    string `json:"key"`
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// adminHeadObject tells an uploader whether an object is already stored,
// and with which bytes.
func (s *Server) adminHeadObject(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	key, appID, ok := s.objectKey(w, r)
	if !ok || !s.allowed(w, tok, appID) {
		return
	}
	size, sum, err := s.storage.stat(key)
	if err != nil {
		s.objectFail(w, key, err)
		return
	}
	h := w.Header()
	h.Set("X-Capship-Sha256", sum)
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// objectFail answers a storage error.
func (s *Server) objectFail(w http.ResponseWriter, key string, err error) {
	var digest *digestError
	switch {
	case errors.Is(err, errObjectNotFound):
		adminError(w, http.StatusNotFound, "not_found", "no object "+key)
	case errors.Is(err, errObjectConflict):
		adminError(w, http.StatusConflict, "object_exists", "object "+key+": "+errObjectConflict.Error())
	case errors.As(err, &digest):
		adminError(w, http.StatusBadRequest, "digest_mismatch", "object "+key+": "+digest.Error())
	case errors.Is(err, errDiskFull):
		s.log.Error("storage disk full", "err", err.Error())
		adminError(w, http.StatusInsufficientStorage, "disk_full", "object "+key+": the disk holding the server's --storage folder is full; nothing was stored: free space there and upload again")
	case isReadError(err):
		adminError(w, http.StatusBadRequest, "incomplete_body", "object "+key+": the upload broke off before Content-Length bytes arrived; nothing was stored: upload again")
	default:
		s.log.Error("storage request failed", "key", key, "err", err.Error())
		adminError(w, http.StatusInternalServerError, "internal", "internal error; the server log has the details")
	}
}

// isReadError reports whether reading the request body failed: the client
// went away or stalled.
func isReadError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) || errors.Is(err, http.ErrBodyReadAfterClose)
}

// progressWriter moves the write deadline on as bytes leave, so that a
// slow but steady download of any size completes while a stalled one
// times out. ReadFrom keeps http.ServeContent's sendfile: it hands the
// file on in chunks, each an *io.LimitedReader of the *os.File itself.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressWriter) extend() { p.rc.SetWriteDeadline(time.Now().Add(p.timeout)) }

func (p *progressWriter) Write(b []byte) (int, error) {
	p.extend()
	return p.ResponseWriter.Write(b)
}

func (p *progressWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := p.ResponseWriter.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		return io.Copy(struct{ io.Writer }{p}, src)
	}
	var n int64
	for lr.N > 0 {
		p.extend()
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, copyChunk)}
		m, err := rf.ReadFrom(chunk)
		n += m
		lr.N -= m
		if err != nil {
			return n, err
		}
		if m == 0 {
			break // the file ended early
		}
	}
	return n, nil
}

// ReadFrom lets http.ServeContent reach the connection's sendfile through
// the request log's recorder.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += int(n)
	return n, err
}
