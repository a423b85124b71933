package main

import (
	"io"
	"sync"
	"time"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler"
)

// newPullSink returns where pull progress goes for --progress / --ansi
// on w: the pull view in a terminal, display's plain/json/quiet renderers
// otherwise.
func (c *cli) newPullSink(w io.Writer, title string, quiet bool) (display.Display, error) {
	mode := c.opts.Progress
	if quiet {
		mode = display.ModeQuiet
	}
	if (mode == "" || mode == display.ModeAuto) && display.IsTerminal(w) && c.opts.Ansi != display.AnsiNever ||
		mode == display.ModeTTY {
		return display.NewPullView(w, title), nil
	}
	d, err := display.New(w, display.Options{Mode: mode, Ansi: c.opts.Ansi, Title: title, DryRun: c.opts.DryRun})
	if err != nil {
		return nil, err
	}
	return &transitionsOnly{Display: d, last: map[string]string{}}, nil
}

// transitionsOnly passes on a layer's event only when its status changes:
// plain and json output get one line per step, not one per chunk.
type transitionsOnly struct {
	display.Display
	mu   sync.Mutex
	last map[string]string
}

// Emit passes e on unless its resource already has its status.
func (t *transitionsOnly) Emit(e scheduler.Event) {
	key := e.Parent + "\x00" + e.Resource
	t.mu.Lock()
	same := t.last[key] == e.Status
	t.last[key] = e.Status
	t.mu.Unlock()
	if same {
		return
	}
	t.Display.Emit(e)
}

// layerEvents turns an image pull's progress into events under parent
// (the service or image line). Image-level messages are dropped: the
// parent line says the same.
func layerEvents(sink scheduler.Events, parent string) func(image.Progress) {
	return func(p image.Progress) {
		if p.ID == "" {
			return
		}
		st := scheduler.Working
		switch p.Status {
		case image.StatusPullComplete, image.StatusAlreadyExists:
			st = scheduler.Done
		}
		sink.Emit(scheduler.Event{Resource: p.ID, Parent: parent, State: st, Status: p.Status,
			Current: p.Current, Total: p.Total, Time: time.Now()})
	}
}
