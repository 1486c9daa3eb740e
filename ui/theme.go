package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles is the dashboard's one theme, built once and passed down. Every
// colour here has a second signal in the text itself (a word or a symbol),
// so meaning survives NO_COLOR, monochrome terminals and colour blindness.
type Styles struct {
	Title, Header, Hint, Tab, ActiveTab lipgloss.Style
	ColumnTitle, Cursor                 lipgloss.Style
	Unexpected, External, Risky         lipgloss.Style
	Expected, New, Gone                 lipgloss.Style
	DetailTitle, DetailLabel, Muted     lipgloss.Style
	Status, Error, Paused               lipgloss.Style
	Border                              lipgloss.Style
	Help                                help.Styles
}

// NewStyles builds the theme. With color false (NO_COLOR, TERM=dumb) it
// uses attributes only: bold, faint, reverse, strikethrough.
func NewStyles(useColor bool) Styles {
	c := func(hex string) color.Color {
		if !useColor {
			return lipgloss.NoColor{}
		}
		return lipgloss.Color(hex)
	}
	red, orange, magenta, green, blue, gray := c("#ff5f5f"), c("#ffaf00"), c("#d787ff"), c("#87d787"), c("#5fafff"), c("#8a8a8a")
	s := lipgloss.NewStyle
	return Styles{
		Title:       s().Bold(true).Foreground(blue),
		Header:      s(),
		Hint:        s().Foreground(orange),
		Tab:         s().Foreground(gray),
		ActiveTab:   s().Bold(true), // with brackets; underline costs bytes per cell
		ColumnTitle: s().Bold(true),
		Cursor:      s().Reverse(true),
		Unexpected:  s().Bold(true).Foreground(red),
		External:    s().Bold(true).Foreground(magenta),
		Risky:       s().Foreground(orange),
		Expected:    s().Faint(true),
		New:         s().Foreground(green),
		Gone:        s().Faint(true).Strikethrough(true),
		DetailTitle: s().Bold(true).Foreground(blue),
		DetailLabel: s().Bold(true),
		Muted:       s().Foreground(gray),
		Status:      s().Foreground(green),
		Error:       s().Bold(true).Foreground(red),
		Paused:      s().Bold(true).Reverse(true),
		Border:      s().Foreground(gray),
		Help: help.Styles{
			ShortKey:       s().Bold(true),
			ShortDesc:      s().Foreground(gray),
			ShortSeparator: s().Foreground(gray),
			Ellipsis:       s().Foreground(gray),
			FullKey:        s().Bold(true),
			FullDesc:       s().Foreground(gray),
			FullSeparator:  s().Foreground(gray),
		},
	}
}
