package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler"
)

// pullView is the terminal view of pulls: a line per image (or service)
// and under it, while it is pulled, a line per layer with a progress bar,
// bytes and speed, as docker compose pull shows. It is safe for concurrent
// use; Close prints the final state.
type pullView struct {
	mu     sync.Mutex
	w      io.Writer
	title  string
	rows   []*pullRow
	byID   map[string]*pullRow
	lines  int
	frame  int
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// pullRow is one line of the view.
type pullRow struct {
	id, parent   string
	state        scheduler.State
	status, text string
	cur, total   int64
	start, end   time.Time
	// speed is a moving average of bytes per second.
	speed   float64
	lastCur int64
	lastAt  time.Time
}

func newPullView(w io.Writer, title string) *pullView {
	v := &pullView{w: w, title: title, byID: map[string]*pullRow{}, stop: make(chan struct{}), done: make(chan struct{})}
	go v.loop()
	return v
}

// loop redraws every 100 ms until Close.
func (v *pullView) loop() {
	defer close(v.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-tick.C:
			v.mu.Lock()
			v.draw(false)
			v.mu.Unlock()
		}
	}
}

// Emit records an event (scheduler.Events).
func (v *pullView) Emit(e scheduler.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := e.Time
	if now.IsZero() {
		now = time.Now()
	}
	r, ok := v.byID[e.Parent+"\x00"+e.Resource]
	if !ok {
		r = &pullRow{id: e.Resource, parent: e.Parent, start: now, lastAt: now}
		v.byID[e.Parent+"\x00"+e.Resource] = r
		v.rows = append(v.rows, r)
	}
	if e.State != scheduler.Working {
		r.end = now
	} else if r.state != scheduler.Working {
		r.start, r.end = now, time.Time{}
	}
	if r.status != e.Status {
		r.lastCur, r.lastAt, r.speed = e.Current, now, 0
	}
	if dt := now.Sub(r.lastAt).Seconds(); dt >= 0.2 && e.Current >= r.lastCur {
		inst := float64(e.Current-r.lastCur) / dt
		if r.speed == 0 {
			r.speed = inst
		} else {
			r.speed = 0.7*r.speed + 0.3*inst
		}
		r.lastCur, r.lastAt = e.Current, now
	}
	r.state, r.status, r.text = e.State, e.Status, e.Text
	r.cur, r.total = e.Current, e.Total
	if v.closed {
		fmt.Fprintln(v.w, strings.TrimSpace(e.Resource+" "+e.Status+" "+e.Text))
	}
}

// Close draws the final frame and stops redrawing.
func (v *pullView) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.mu.Unlock()
	close(v.stop)
	<-v.done
	v.mu.Lock()
	defer v.mu.Unlock()
	v.draw(true)
}

var pullSpinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// draw prints a frame over the previous one. Layers of a finished image
// are folded away; the final frame shows the images only.
func (v *pullView) draw(final bool) {
	width, height := 80, 24
	if f, ok := v.w.(interface{ Fd() uintptr }); ok {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width, height = w, h
		}
	}
	v.frame++
	now := time.Now()
	var shown []*pullRow
	doneCount, top := 0, 0
	for _, r := range v.rows {
		if r.parent == "" {
			top++
			if r.state != scheduler.Working {
				doneCount++
			}
			shown = append(shown, r)
			continue
		}
		if p := v.byID["\x00"+r.parent]; !final && (p == nil || p.state == scheduler.Working) {
			shown = append(shown, r)
		}
	}
	if max := height - 2; len(shown) > max && max > 1 {
		shown = shown[len(shown)-max:]
	}
	var b strings.Builder
	b.WriteString("\033[?25l")
	if v.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", v.lines)
	}
	lines := 0
	line := func(s string) {
		b.WriteString("\r" + s + "\033[K\n")
		lines++
	}
	line(fmt.Sprintf("[+] %s %d/%d", v.title, doneCount, top))
	idw := 0
	for _, r := range shown {
		idw = max(idw, utf8.RuneCountInString(r.id))
	}
	for _, r := range shown {
		mark, color := pullSpinner[v.frame%len(pullSpinner)], "34"
		switch r.state {
		case scheduler.Done:
			mark, color = "✔", "32"
		case scheduler.Warning:
			mark, color = "!", "33"
		case scheduler.Error:
			mark, color = "✘", "31"
		}
		end := r.end
		if end.IsZero() {
			end = now
		}
		timer := fmt.Sprintf("%.1fs", end.Sub(r.start).Seconds())
		indent := " "
		if r.parent != "" {
			indent = "   "
		}
		detail := r.text
		if r.state == scheduler.Working && r.total > 0 && r.parent != "" {
			detail = progressBar(r.cur, r.total, 20) + " " + byteCount(r.cur) + "/" + byteCount(r.total)
			if r.speed > 0 {
				detail += "  " + byteCount(int64(r.speed)) + "/s"
			}
		}
		left := fmt.Sprintf("%s\033[%sm%s\033[0m %s%s \033[%sm%s\033[0m %s", indent, color, mark, r.id,
			strings.Repeat(" ", idw-utf8.RuneCountInString(r.id)), color, r.status, detail)
		visible := len(indent) + 2 + idw + 1 + utf8.RuneCountInString(r.status) + 1 + utf8.RuneCountInString(detail)
		pad := width - visible - len(timer) - 1
		if pad < 1 {
			pad = 1
		}
		line(left + strings.Repeat(" ", pad) + "\033[2m" + timer + "\033[0m")
	}
	for i := lines; i < v.lines; i++ {
		line("")
	}
	b.WriteString("\033[?25h")
	v.lines = lines
	if final {
		v.lines = 0
	}
	_, _ = io.WriteString(v.w, b.String())
}

// progressBar is docker's "[=====>     ]".
func progressBar(cur, total int64, width int) string {
	if total <= 0 {
		return ""
	}
	n := int(float64(width) * float64(min(cur, total)) / float64(total))
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	return "[" + bar + "]"
}

// byteCount is docker's progress size: decimal units, 3 significant
// digits ("45.2MB").
func byteCount(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

// progressSink is where pull progress goes: the live view in a terminal,
// display's plain/json/quiet renderers otherwise.
type progressSink interface {
	scheduler.Events
	Close()
}

// newPullSink returns the renderer for --progress / --ansi on w.
func (c *cli) newPullSink(w io.Writer, title string, quiet bool) (progressSink, error) {
	mode := c.opts.Progress
	if quiet {
		mode = display.ModeQuiet
	}
	if (mode == "" || mode == display.ModeAuto) && display.IsTerminal(w) && c.opts.Ansi != display.AnsiNever ||
		mode == display.ModeTTY {
		return newPullView(w, title), nil
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
