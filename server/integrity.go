package server

import (
	"context"
	"strings"
	"sync"
	"time"

	"capship/store"
)

// integrityEvery is how often /readyz has SQLite check the registry file
// (quick_check reads the whole file, so not on every probe).
const integrityEvery = 10 * time.Minute

// damagedHint is what the log tells an operator to do about a damaged file.
const damagedHint = "stop capship, run 'capship registry check', restore the file from a backup"

// registryHealth remembers whether the registry file is damaged, from the
// last periodic check and from any read that found damage since. The zero
// value is ready: never checked, no damage known.
type registryHealth struct {
	mu      sync.Mutex
	running bool
	checked time.Time // when the last check started
	problem string    // "" while no damage is known
}

// registryDamaged returns what is known to be wrong with the registry
// file, or "". When a check is due it starts one in the background, so
// that a probe never waits for a read of the whole file.
func (s *Server) registryDamaged() string {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running && time.Since(h.checked) >= integrityEvery {
		h.running, h.checked = true, time.Now()
		go s.checkRegistry()
	}
	return h.problem
}

// checkRegistry runs the quick check and records (and logs) its result.
// A check that could not run changes nothing.
func (s *Server) checkRegistry() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	problems, err := store.QuickCheck(ctx, s.reg)
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
	switch {
	case err != nil:
		s.log.Warn("registry check could not run", "err", err.Error())
	case len(problems) > 0:
		h.problem = strings.Join(problems[:min(len(problems), 5)], "; ")
		s.log.Error("registry file is damaged", "problems", h.problem,
			"hint", damagedHint)
	case h.problem != "":
		s.log.Info("registry check passed; the earlier damage is gone")
		h.problem = ""
	}
}

// noteCorrupt records and logs a read that found the registry file
// damaged, so that /readyz fails until a later check finds it sound.
func (s *Server) noteCorrupt(err error) {
	if !store.IsCorrupt(err) {
		return
	}
	h := &s.health
	h.mu.Lock()
	first := h.problem == ""
	h.problem = err.Error()
	h.mu.Unlock()
	if first {
		s.log.Error("registry file is damaged", "err", err.Error(),
			"hint", damagedHint)
	}
}
