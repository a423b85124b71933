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

// liveView is what the live views (the compose view and the pull view)
// share: it redraws a frame in place every 100 ms, from a goroutine that
// Close stops, and draws a last, final frame on Close. A view embeds it,
// gives it render, and holds mu while it changes what render reads.
type liveView struct {
	mu sync.Mutex
	w  io.Writer
	// render adds the lines of a frame (called with mu held); a frame
	// without lines is not drawn.
	render func(f *frame)
	// crEachLine starts every line with a carriage return, not only the
	// first (the pull view's frames, byte for byte as they were).
	crEachLine bool
	// now is the clock (time.Now when nil).
	now func() time.Time
	// lines is how many lines the last frame printed (the cursor goes up
	// that many to redraw).
	lines int
	// drawn counts the frames drawn: it turns the spinner.
	drawn  int
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// newLiveView returns the redrawing part of a view on w that render
// draws; start starts the redraws.
func newLiveView(w io.Writer, render func(f *frame)) *liveView {
	return &liveView{w: w, render: render, stop: make(chan struct{}), done: make(chan struct{})}
}

// start redraws every 100 ms until Close.
func (l *liveView) start() {
	go func() {
		defer close(l.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
				l.mu.Lock()
				l.draw(false)
				l.mu.Unlock()
			}
		}
	}()
}

// Close prints the final frame and stops the redraws.
func (l *liveView) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draw(true)
}

// spinner is the mark of a resource at work, a step a frame.
var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// draw prints a frame over the last one; final leaves it on the screen
// with the cursor below it. Called with mu held.
func (l *liveView) draw(final bool) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	width, height := terminalSize(l.w)
	f := &frame{width: width, height: height, now: now, final: final, spin: spinner[(l.drawn+1)%len(spinner)]}
	l.render(f)
	if len(f.lines) == 0 {
		return
	}
	l.drawn++
	l.write(f.lines, final)
}

// write prints lines over the last frame's, blanking those of its lines
// that are left below, with the cursor hidden while it draws.
func (l *liveView) write(lines []string, final bool) {
	for len(lines) < l.lines {
		lines = append(lines, "")
	}
	var b strings.Builder
	b.WriteString("\033[?25l")
	if l.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", l.lines)
	}
	for i, s := range lines {
		if i == 0 || l.crEachLine {
			b.WriteString("\r")
		}
		b.WriteString(s + "\033[K\n")
	}
	b.WriteString("\033[?25h")
	l.lines = len(lines)
	if final {
		l.lines = 0
	}
	_, _ = io.WriteString(l.w, b.String())
}

// terminalSize is w's columns and lines, 80 and 24 when w is not a
// terminal.
func terminalSize(w io.Writer) (int, int) {
	if f, ok := w.(*os.File); ok {
		if wd, ht, err := term.GetSize(int(f.Fd())); err == nil && wd > 0 && ht > 0 {
			return wd, ht
		}
	}
	return 80, 24
}

// frame is one drawing of a live view: the terminal's size, the time and
// the spinner's step it is drawn at, and the lines render adds.
type frame struct {
	width, height int
	now           time.Time
	// final is the last frame, drawn by Close.
	final bool
	spin  string
	lines []string
}

// line adds a line.
func (f *frame) line(s string) { f.lines = append(f.lines, s) }

// header adds the view's first line, "[+] Running 2/5" after prefix.
func (f *frame) header(prefix, title string, done, total int) {
	f.line(fmt.Sprintf("%s[+] %s %d/%d", prefix, title, done, total))
}

// resourceRow is a resource's line: its indent, its state's mark, id, status and
// detail, the id and status padded to their columns, and at the right
// edge the time it took (or has taken so far).
type resourceRow struct {
	indent               string
	state                scheduler.State
	id, status, detail   string
	idWidth, statusWidth int
	// start and end time the resource; end is zero while it runs.
	start, end time.Time
}

// align pads the ids of rows to the longest one, and their statuses too
// when statuses is set (the compose view's status column).
func align(rows []resourceRow, statuses bool) {
	idw, stw := 0, 0
	for _, r := range rows {
		idw = max(idw, utf8.RuneCountInString(r.id))
		stw = max(stw, utf8.RuneCountInString(r.status))
	}
	for i := range rows {
		rows[i].idWidth = idw
		if statuses {
			rows[i].statusWidth = stw
		}
	}
}

// row adds r's line, its detail cut so that the line leaves the last
// column free and a space before the timer.
func (f *frame) row(r resourceRow) {
	mark, color := f.mark(r.state)
	timer := elapsed(r.start, r.end, f.now)
	id := r.id + padding(r.id, r.idWidth)
	status := colorize(color, r.status) + padding(r.status, r.statusWidth)
	visible := len(r.indent) + 2 + utf8.RuneCountInString(id) + 1 +
		max(r.statusWidth, utf8.RuneCountInString(r.status)) + 1 + utf8.RuneCountInString(r.detail)
	detail := r.detail
	room := f.width - visible - len(timer) - 1
	if room < 1 {
		cut := max(utf8.RuneCountInString(detail)+room-1, 0)
		detail = string([]rune(detail)[:cut])
		room = 1
	}
	f.line(fmt.Sprintf("%s%s %s %s %s", r.indent, colorize(color, mark), id, status, detail) +
		strings.Repeat(" ", room) + colorize("2", timer))
}

// mark is a state's mark and colour: the spinner (blue) while working.
func (f *frame) mark(s scheduler.State) (mark, color string) {
	switch s {
	case scheduler.Done:
		return "✔", "32"
	case scheduler.Warning:
		return "!", "33"
	case scheduler.Error:
		return "✘", "31"
	}
	return f.spin, "34"
}

// elapsed is the time from start to end, or to now while end is zero:
// "2.5s".
func elapsed(start, end, now time.Time) string {
	if end.IsZero() {
		end = now
	}
	return fmt.Sprintf("%.1fs", end.Sub(start).Seconds())
}

// padding is the spaces that pad s to width columns.
func padding(s string, width int) string {
	return strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
}

// colorize wraps s in the ANSI colour code.
func colorize(code, s string) string { return "\033[" + code + "m" + s + "\033[0m" }
