// Package workflow holds capship's real work: keys, archive, encryption,
// verification, remote checks. It never imports ui or store.
package workflow

import (
	"sync"
	"time"
)

// Phase names the part of a long job an Event belongs to.
type Phase string

const (
	PhaseScan     Phase = "scan"     // walking the build folder
	PhasePack     Phase = "pack"     // zipping, hashing and encrypting
	PhaseDelta    Phase = "delta"    // signing, compressing and encrypting each file for delta updates
	PhaseDownload Phase = "download" // fetching a hosted bundle back
	PhaseVerify   Phase = "verify"   // decrypting and checking a bundle
	PhaseExtract  Phase = "extract"  // unpacking a verified bundle
	PhaseDone     Phase = "done"     // the job finished (sent once, last)
)

// Event is one progress report of a long job. Totals are zero when unknown.
type Event struct {
	Phase      Phase
	Files      int    // files done so far
	TotalFiles int    // files in all
	Bytes      int64  // input bytes done so far
	TotalBytes int64  // input bytes in all
	Current    string // the file being worked on, slash-separated, if any
	Skipped    int    // of Files, those found already uploaded (PhaseUpload)
}

// Reporter receives progress events. It is called from the job's goroutine
// and must not block for long; nil means nobody listens.
type Reporter func(Event)

// Throttle wraps r so that it forwards at most one event per interval,
// except PhaseDone and phase changes, which always go through.
func Throttle(r Reporter, interval time.Duration) Reporter {
	if r == nil {
		return func(Event) {}
	}
	var (
		mu    sync.Mutex
		last  time.Time
		phase Phase
	)
	return func(e Event) {
		mu.Lock()
		now := time.Now()
		send := e.Phase == PhaseDone || e.Phase != phase || now.Sub(last) >= interval
		if send {
			last, phase = now, e.Phase
		}
		mu.Unlock()
		if send {
			r(e)
		}
	}
}
