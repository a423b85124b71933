// Package display renders the scheduler's progress events for people and
// programs: a live view per resource in a terminal (like docker compose's),
// plain lines when the output is not a terminal or with --progress plain,
// JSON lines with --progress json, and nothing with --progress quiet.
// NewPullView is the live view of image pulls: a line per layer with a
// progress bar under each image, as docker compose pull shows.
//
// It also formats container output (LogPrinter): colour-prefixed
// "web-1  | line" as docker compose prints it.
//
// Every renderer is safe for concurrent use; Close must be called once at
// the end so that the live view prints its final state and stops.
package display

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/berthdev/berth/scheduler"
)

// Progress modes, as docker compose's --progress.
const (
	ModeAuto  = "auto"
	ModeTTY   = "tty"
	ModePlain = "plain"
	ModeJSON  = "json"
	ModeQuiet = "quiet"
)

// ANSI modes (--ansi).
const (
	AnsiAuto   = "auto"
	AnsiNever  = "never"
	AnsiAlways = "always"
)

// Options choose how progress is shown.
type Options struct {
	// Mode is one of the Mode constants; "" means ModeAuto (the live view
	// on a terminal, plain lines otherwise).
	Mode string
	// Ansi is one of the Ansi constants; "" means AnsiAuto. "never" turns
	// the live view into plain lines.
	Ansi string
	// Title is the live view's header ("Running", "Stopping", …).
	Title string
	// DryRun prefixes every line with "DRY-RUN MODE - ".
	DryRun bool
}

// Display is an Events sink bound to one output.
type Display interface {
	scheduler.Events
	// Close flushes the final state and stops any background rendering.
	Close()
}

// New returns the renderer for opts writing to w (usually standard error).
func New(w io.Writer, opts Options) (Display, error) {
	mode := opts.Mode
	switch mode {
	case "", ModeAuto:
		mode = ModePlain
		if IsTerminal(w) && opts.Ansi != AnsiNever {
			mode = ModeTTY
		}
	case ModeTTY:
		if opts.Ansi == AnsiNever {
			mode = ModePlain
		}
	case ModePlain, ModeJSON, ModeQuiet:
	default:
		return nil, fmt.Errorf("unsupported --progress value %q (auto, tty, plain, json, quiet)", opts.Mode)
	}
	switch opts.Ansi {
	case "", AnsiAuto, AnsiNever, AnsiAlways:
	default:
		return nil, fmt.Errorf("unsupported --ansi value %q (never, always, auto)", opts.Ansi)
	}
	prefix := ""
	if opts.DryRun {
		prefix = "DRY-RUN MODE - "
	}
	switch mode {
	case ModeTTY:
		t := newTTY(w, opts.Title, prefix)
		t.start()
		return t, nil
	case ModeJSON:
		return &jsonWriter{w: w, dryRun: opts.DryRun}, nil
	case ModeQuiet:
		return quiet{}, nil
	}
	return &plainWriter{w: w, prefix: prefix}, nil
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// UseColor reports whether colours are used on w for an --ansi value.
func UseColor(w io.Writer, ansi string) bool {
	switch ansi {
	case AnsiAlways:
		return true
	case AnsiNever:
		return false
	}
	return IsTerminal(w)
}

type quiet struct{}

func (quiet) Emit(scheduler.Event) {}
func (quiet) Close()               {}

// plainWriter prints one line per event: " Container app-db-1 Started".
type plainWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *plainWriter) Emit(e scheduler.Event) {
	if e.Parent != "" && e.State == scheduler.Working {
		return // layer progress is noise in plain output
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, plainLine(p.prefix, e))
}

func plainLine(prefix string, e scheduler.Event) string {
	parts := []string{prefix}
	if e.Resource != "" {
		parts = append(parts, e.Resource)
	}
	if e.Status != "" {
		parts = append(parts, e.Status)
	}
	if e.Text != "" {
		parts = append(parts, e.Text)
	}
	return strings.Join(parts, " ")
}

func (p *plainWriter) Close() {}

// jsonWriter prints one JSON object per event, with docker compose's keys.
type jsonWriter struct {
	mu     sync.Mutex
	w      io.Writer
	dryRun bool
}

type jsonMessage struct {
	DryRun   bool   `json:"dry-run,omitempty"`
	ID       string `json:"id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
	Status   string `json:"status,omitempty"`
	Text     string `json:"text,omitempty"`
	Details  string `json:"details,omitempty"`
	Current  int64  `json:"current,omitempty"`
	Total    int64  `json:"total,omitempty"`
	Percent  int    `json:"percent,omitempty"`
}

func (j *jsonWriter) Emit(e scheduler.Event) {
	m := jsonMessage{DryRun: j.dryRun, ID: e.Resource, ParentID: e.Parent, Status: e.State.String(),
		Text: e.Status, Details: e.Text, Current: e.Current, Total: e.Total}
	if e.Total > 0 {
		m.Percent = int(e.Current * 100 / e.Total)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprintln(j.w, string(b))
}

func (j *jsonWriter) Close() {}
