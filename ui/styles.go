package ui

import (
	"github.com/charmbracelet/lipgloss"
)

// Styles is the wizard's whole look, built in one place from one renderer
// so that the color profile (and NO_COLOR) is decided once.
type Styles struct {
	Renderer *lipgloss.Renderer

	App      lipgloss.Style // the frame around everything
	Title    lipgloss.Style // "capship · release wizard"
	StepOn   lipgloss.Style // the current step in the breadcrumb
	StepDone lipgloss.Style // finished steps
	StepTodo lipgloss.Style // steps still ahead
	Heading  lipgloss.Style // a step's own heading
	Body     lipgloss.Style // plain sentences
	Label    lipgloss.Style // "App id"
	Value    lipgloss.Style // "com.example.app"
	Muted    lipgloss.Style // explanations
	Good     lipgloss.Style // "✓ ..."
	Warn     lipgloss.Style // "! ..."
	Bad      lipgloss.Style // "✗ ..."
	ErrorBox lipgloss.Style // an error with what to do next
	WarnBox  lipgloss.Style // a loud warning
	Code     lipgloss.Style // paths, commands, snippets
	Cursor   lipgloss.Style // the selected menu entry
	Focus    lipgloss.Style // the label of the focused input
}

// NewStyles returns the styles for r. With an Ascii profile (NO_COLOR, tests)
// every style degrades to plain text plus borders.
func NewStyles(r *lipgloss.Renderer) Styles {
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#9D8CFF"}
	green := lipgloss.AdaptiveColor{Light: "#1F7A3A", Dark: "#5FD38A"}
	yellow := lipgloss.AdaptiveColor{Light: "#8A5A00", Dark: "#F2C14E"}
	red := lipgloss.AdaptiveColor{Light: "#B3261E", Dark: "#FF6B6B"}
	gray := lipgloss.AdaptiveColor{Light: "#6B6B6B", Dark: "#8A8A8A"}
	return Styles{
		Renderer: r,
		App:      r.NewStyle().Padding(0, 1),
		Title:    r.NewStyle().Bold(true).Foreground(accent),
		StepOn:   r.NewStyle().Bold(true).Underline(true).Foreground(accent),
		StepDone: r.NewStyle().Foreground(green),
		StepTodo: r.NewStyle().Foreground(gray),
		Heading:  r.NewStyle().Bold(true).MarginBottom(1),
		Body:     r.NewStyle(),
		Label:    r.NewStyle().Foreground(gray),
		Value:    r.NewStyle().Bold(true),
		Muted:    r.NewStyle().Foreground(gray),
		Good:     r.NewStyle().Foreground(green),
		Warn:     r.NewStyle().Foreground(yellow),
		Bad:      r.NewStyle().Foreground(red).Bold(true),
		ErrorBox: r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(red).Padding(0, 1),
		WarnBox:  r.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(yellow).Padding(0, 1),
		Code:     r.NewStyle().Foreground(accent),
		Cursor:   r.NewStyle().Bold(true).Foreground(accent),
		Focus:    r.NewStyle().Bold(true).Foreground(accent),
	}
}
