package ui

import (
	"fmt"
	"strings"
	"sync"
)

// CrashExitCode is the exit code after the wizard crashed: EX_SOFTWARE
// from sysexits.h, "an internal software error", so that scripts tell a
// crash from a cancel (130) and from a failed release (1).
const CrashExitCode = 70

// BugReportHint says where a crash goes.
const BugReportHint = "This is a bug in capship, not in your app. Please report it in capship's issue tracker " +
	"(README.md, \"Reporting bugs\") with this message, the stack trace printed above and `capship --version`."

// crashNote keeps the first panic of the wizard, from Update, View, a
// command or a job, so that the caller can report it after Bubble Tea has
// restored the terminal.
type crashNote struct {
	mu    sync.Mutex
	value string
}

// record keeps r unless an earlier panic was recorded.
func (c *crashNote) record(r any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.value == "" {
		c.value = fmt.Sprint(r)
	}
}

// repanic records a recovered r and panics again with it, so that Bubble
// Tea still restores the terminal and ends the program. Use it as
// defer func() { if r := recover(); r != nil { c.repanic(r) } }().
func (c *crashNote) repanic(r any) {
	c.record(r)
	panic(r)
}

// Crash returns the message of the panic that ended the wizard, or "".
func (m *Model) Crash() string {
	m.env.crash.mu.Lock()
	defer m.env.crash.mu.Unlock()
	return m.env.crash.value
}

// CrashReport is what to print after the wizard crashed with message
// (from Model.Crash; "" when it is unknown).
func CrashReport(message string) string {
	if message == "" {
		message = "unknown panic"
	}
	return "capship: the wizard crashed: " + strings.TrimSpace(message) + "\n" + BugReportHint
}
