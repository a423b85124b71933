package display

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthdev/berth/scheduler"
)

// ttyWriter is the compose view: one line per resource, redrawn in place
// (liveView); a resource's children (an image's layers) are folded into
// its line as bytes done of the total.
type ttyWriter struct {
	*liveView
	title  string
	prefix string
	ids    []string
	tasks  map[string]*task
}

// task is what the compose view knows of a resource.
type task struct {
	id, parent     string
	state          scheduler.State
	status, text   string
	start, end     time.Time
	current, total int64
}

// newTTY returns the compose view on w, its header "[+] title" after
// prefix; start starts its redraws.
func newTTY(w io.Writer, title, prefix string) *ttyWriter {
	if title == "" {
		title = "Running"
	}
	t := &ttyWriter{title: title, prefix: prefix, tasks: map[string]*task{}}
	t.liveView = newLiveView(w, t.render)
	return t
}

// Emit records an event; once the view is closed, it prints it as a
// plain line.
func (t *ttyWriter) Emit(e scheduler.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := e.Resource
	if id == "" {
		id = e.Status + " " + e.Text
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	k, ok := t.tasks[id]
	if !ok {
		k = &task{id: id, parent: e.Parent, start: e.Time}
		t.tasks[id] = k
		t.ids = append(t.ids, id)
	}
	// The timer runs from the resource's first event to its last
	// completion, as docker compose's.
	if e.State == scheduler.Working {
		k.end = time.Time{}
	} else {
		k.end = e.Time
	}
	k.state, k.status, k.text = e.State, e.Status, e.Text
	if e.Total > 0 {
		k.current, k.total = e.Current, e.Total
	}
	if t.closed {
		fmt.Fprintln(t.w, plainLine(t.prefix, e))
	}
}

// render adds the header and a line per top-level resource; a frame
// that is not the final one shows the last that fit, under " ... N more".
func (t *ttyWriter) render(f *frame) {
	top, children := t.tree()
	if len(top) == 0 {
		return
	}
	done := 0
	for _, k := range top {
		if k.state != scheduler.Working {
			done++
		}
	}
	shown := top
	hidden := 0
	if max := f.height - 2; !f.final && len(top) > max && max > 1 {
		hidden = len(top) - (max - 1)
		shown = top[hidden:]
	}
	f.header(t.prefix, t.title, done, len(top))
	if hidden > 0 {
		f.line(fmt.Sprintf(" ... %d more", hidden))
	}
	rows := make([]resourceRow, len(shown))
	for i, k := range shown {
		rows[i] = resourceRow{indent: " ", state: k.state, id: k.id, status: k.status,
			detail: detail(k, children[k.id]), start: k.start, end: k.end}
	}
	align(rows, true)
	for _, r := range rows {
		f.row(r)
	}
}

// tree is the top-level tasks in order, and the children of each (the
// tasks whose parent is known).
func (t *ttyWriter) tree() ([]*task, map[string][]*task) {
	var top []*task
	children := map[string][]*task{}
	for _, id := range t.ids {
		k := t.tasks[id]
		if k.parent != "" {
			if _, ok := t.tasks[k.parent]; ok {
				children[k.parent] = append(children[k.parent], k)
				continue
			}
		}
		top = append(top, k)
	}
	return top, children
}

// detail is k's text and, while it works, the bytes it and its children
// have done of their total: "1.5MB/5.0MB".
func detail(k *task, children []*task) string {
	cur, tot := k.current, k.total
	for _, c := range children {
		cur += c.current
		tot += c.total
	}
	if tot > 0 && k.state == scheduler.Working {
		return strings.TrimSpace(fmt.Sprintf("%s %s/%s", k.text, humanSize(cur), humanSize(tot)))
	}
	return k.text
}

// humanSize is a size in binary units with one decimal: "1.5MB".
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
