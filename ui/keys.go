package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every key binding of the wizard. Steps pick the ones that
// work for them; the footer shows exactly those.
type KeyMap struct {
	Next    key.Binding // continue / confirm
	Finish  key.Binding // leave the wizard from the done page
	Back    key.Binding // go back, or cancel a running job
	Quit    key.Binding
	Up      key.Binding
	Down    key.Binding
	Tab     key.Binding // next field
	Pick    key.Binding // open the folder picker
	Recheck key.Binding // run the preflight again
	Retry   key.Binding
	Edit    key.Binding
	Write   key.Binding // write the public key into the config
	Cancel  key.Binding // stop a running job
	Replace key.Binding // rebuild over an existing bundle of the same version
	Bump    key.Binding // take the next patch version and write it to package.json
	Toggle  key.Binding // switch a yes/no field
	Anyway  key.Binding // register although the native packages changed
	MinNat  key.Binding // set a minimum native version instead
	Scroll  key.Binding // help only: scrolling the done page
	Details key.Binding // the done page: show or hide URLs, session key, checksum
	Move    key.Binding // help only: folder picker
	Select  key.Binding // help only: folder picker
	Enter   key.Binding // help only: folder picker
	Parent  key.Binding // help only: folder picker
	CloseFP key.Binding // help only: folder picker
}

// DefaultKeyMap returns the wizard's bindings.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Next:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
		Finish:  key.NewBinding(key.WithKeys("enter", "q"), key.WithHelp("enter/q", "finish")),
		Back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Tab:     key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "next field")),
		Pick:    key.NewBinding(key.WithKeys("ctrl+o"), key.WithHelp("ctrl+o", "pick folder")),
		Recheck: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "recheck")),
		Retry:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry")),
		Edit:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit url")),
		Write:   key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write key to config")),
		Replace: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "replace it")),
		Bump:    key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("ctrl+n", "next version")),
		Toggle:  key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "toggle")),
		Anyway:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "register anyway")),
		MinNat:  key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "set min native")),
		Cancel:  key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc/ctrl+c", "cancel")),
		Details: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "details")),
		Scroll:  key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown"), key.WithHelp("↑/↓", "scroll")),
		Move:    key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "move")),
		Select:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "use folder")),
		Enter:   key.NewBinding(key.WithKeys("l", "right"), key.WithHelp("→", "open")),
		Parent:  key.NewBinding(key.WithKeys("h", "left", "backspace"), key.WithHelp("←", "parent")),
		CloseFP: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
	}
}

// with returns b with another help text, for steps where a key means
// something more specific ("enter: create key").
func with(b key.Binding, desc string) key.Binding {
	h := b.Help()
	b.SetHelp(h.Key, desc)
	return b
}

// bindings is a help.KeyMap over a fixed list, for the footer.
type bindings []key.Binding

func (b bindings) ShortHelp() []key.Binding  { return b }
func (b bindings) FullHelp() [][]key.Binding { return [][]key.Binding{b} }
