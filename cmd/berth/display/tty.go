package display

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/berthdev/berth/scheduler"
)

// ttyWriter is the live view: one line per resource, redrawn in place
// every 100 ms by a goroutine that Close stops.
type ttyWriter struct {
	mu     sync.Mutex
	w      io.Writer
	title  string
	prefix string
	ids    []string
	tasks  map[string]*task
	// lines is how many lines the last frame printed (the cursor goes up
	// that many to redraw).
	lines  int
	frame  int
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

type task struct {
	id, parent     string
	state          scheduler.State
	status, text   string
	start, end     time.Time
	current, total int64
}

func newTTY(w io.Writer, title, prefix string) *ttyWriter {
	if title == "" {
		title = "Running"
	}
	t := &ttyWriter{w: w, title: title, prefix: prefix, tasks: map[string]*task{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go t.loop()
	return t
}

func (t *ttyWriter) loop() {
	defer close(t.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.mu.Lock()
			t.print(false)
			t.mu.Unlock()
		}
	}
}

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

// Close prints the final frame and stops the redraws.
func (t *ttyWriter) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	t.print(true)
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func terminalSize(w io.Writer) (int, int) {
	if f, ok := w.(*os.File); ok {
		if wd, ht, err := term.GetSize(int(f.Fd())); err == nil && wd > 0 && ht > 0 {
			return wd, ht
		}
	}
	return 80, 24
}

// print draws a frame; final draws every task and leaves the cursor below.
func (t *ttyWriter) print(final bool) {
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
	if len(top) == 0 {
		return
	}
	width, height := terminalSize(t.w)
	t.frame++
	now := time.Now()

	done := 0
	for _, k := range top {
		if k.state != scheduler.Working {
			done++
		}
	}
	shown := top
	hidden := 0
	if max := height - 2; !final && len(top) > max && max > 1 {
		hidden = len(top) - (max - 1)
		shown = top[hidden:]
	}
	idw, stw := 0, 0
	for _, k := range shown {
		idw = max(idw, utf8.RuneCountInString(k.id))
		stw = max(stw, utf8.RuneCountInString(k.status))
	}

	var b strings.Builder
	b.WriteString("\033[?25l") // hide the cursor while drawing
	if t.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", t.lines)
	}
	b.WriteString("\r")
	lines := 0
	line := func(s string) {
		b.WriteString(s)
		b.WriteString("\033[K\n")
		lines++
	}
	head := fmt.Sprintf("[+] %s %d/%d", t.title, done, len(top))
	if t.prefix != "" {
		head = t.prefix + head
	}
	line(head)
	if hidden > 0 {
		line(fmt.Sprintf(" ... %d more", hidden))
	}
	for _, k := range shown {
		mark, color := spinner[t.frame%len(spinner)], "34"
		switch k.state {
		case scheduler.Done:
			mark, color = "✔", "32"
		case scheduler.Warning:
			mark, color = "!", "33"
		case scheduler.Error:
			mark, color = "✘", "31"
		}
		end := k.end
		if end.IsZero() {
			end = now
		}
		timer := fmt.Sprintf("%.1fs", end.Sub(k.start).Seconds())
		detail := k.text
		cur, tot := k.current, k.total
		for _, c := range children[k.id] {
			cur += c.current
			tot += c.total
		}
		if tot > 0 && k.state == scheduler.Working {
			detail = strings.TrimSpace(fmt.Sprintf("%s %s/%s", detail, humanSize(cur), humanSize(tot)))
		}
		left := fmt.Sprintf(" %s %s%s %s%s %s", colorize(color, mark), k.id,
			strings.Repeat(" ", idw-utf8.RuneCountInString(k.id)), colorize(color, k.status),
			strings.Repeat(" ", stw-utf8.RuneCountInString(k.status)), detail)
		visible := 3 + idw + 1 + stw + 1 + utf8.RuneCountInString(detail)
		room := width - visible - len(timer) - 1
		if room < 0 {
			// Shorten the detail to fit; the timer keeps its column.
			cut := utf8.RuneCountInString(detail) + room - 1
			if cut < 0 {
				cut = 0
			}
			detail = string([]rune(detail)[:cut])
			left = fmt.Sprintf(" %s %s%s %s%s %s", colorize(color, mark), k.id,
				strings.Repeat(" ", idw-utf8.RuneCountInString(k.id)), colorize(color, k.status),
				strings.Repeat(" ", stw-utf8.RuneCountInString(k.status)), detail)
			room = 1
		}
		line(left + strings.Repeat(" ", room) + colorize("2", timer))
	}
	for i := lines; i < t.lines; i++ {
		line("")
	}
	b.WriteString("\033[?25h")
	t.lines = lines
	if final {
		t.lines = 0
	}
	_, _ = io.WriteString(t.w, b.String())
}

func colorize(code, s string) string { return "\033[" + code + "m" + s + "\033[0m" }

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
