package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/dustin/go-humanize"
)

// sizeOf formats n like "12 MiB": binary units, as the engine's preflight
// messages and the command line use.
func sizeOf(n int64) string {
	if n < 0 {
		n = 0
	}
	return humanize.IBytes(uint64(n))
}

// duration formats d for an ETA: "4s", "1m20s".
func duration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// fields renders label/value rows with the labels in one column.
func fields(st Styles, rows ...[2]string) string {
	w := 0
	for _, r := range rows {
		w = max(w, lipgloss.Width(r[0]))
	}
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(st.Label.Render(fmt.Sprintf("%-*s", w, r[0])))
		b.WriteString("  ")
		b.WriteString(strings.ReplaceAll(r[1], "\n", "\n"+strings.Repeat(" ", w+2)))
	}
	return b.String()
}

// shorten cuts s in the middle to at most w cells: "/home/…/www".
func shorten(s string, w int) string {
	if w < 5 || lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	keep := w - 1
	head := keep / 3
	tail := keep - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// wrap breaks s (no spaces, e.g. a checksum) into lines of w cells.
func wrap(s string, w int) string {
	if w < 8 {
		w = 8
	}
	r := []rune(s)
	var b strings.Builder
	for len(r) > w {
		b.WriteString(string(r[:w]))
		b.WriteString("\n")
		r = r[w:]
	}
	b.WriteString(string(r))
	return b.String()
}

// errorView renders err in a box with what to do next.
func errorView(st Styles, width int, err error, next string) string {
	msg := st.Bad.Render("✗ ") + err.Error()
	if next != "" {
		msg += "\n" + st.Muted.Render(next)
	}
	return st.ErrorBox.Width(max(width-2, 20)).Render(msg)
}

// say renders a sentence in style, wrapped to the body width.
func (e *env) say(style lipgloss.Style, text string) string {
	return style.Render(ansi.Wrap(text, max(e.width, 20), ""))
}

// mib formats n in MiB with the precision a comparison of downloads
// needs: "0.05 MiB", "12.4 MiB", "160 MiB".
func mib(n int64) string {
	v := float64(max(n, 0)) / (1 << 20)
	switch {
	case n <= 0:
		return "0 MiB"
	case v < 0.01:
		return "<0.01 MiB"
	case v < 10:
		return fmt.Sprintf("%.2f MiB", v)
	case v < 100:
		return fmt.Sprintf("%.1f MiB", v)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

// percent is n as a share of of: "4%", "<1%" for a small non-zero share.
func percent(n, of int64) string {
	if of <= 0 {
		return "–"
	}
	p := float64(n) * 100 / float64(of)
	if n > 0 && p < 1 {
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", p)
}
