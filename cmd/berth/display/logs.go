package display

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// LogOptions choose how container output is printed.
type LogOptions struct {
	// Color gives each container a colour (cyan, yellow, green, magenta,
	// blue, red, in turn), as docker compose.
	Color bool
	// Prefix prints "name  | " before each line (--no-log-prefix clears it).
	Prefix bool
	// Timestamps prints each line's time (RFC 3339, nanoseconds).
	Timestamps bool
	// Project is trimmed from container names in prefixes ("app-web-1"
	// shows as "web-1"), as docker compose does.
	Project string
}

// LogPrinter formats container output as docker compose does:
// "web-1  | line", prefixes padded to the widest name. It implements
// scheduler.LogConsumer and is safe for concurrent use.
type LogPrinter struct {
	mu      sync.Mutex
	stdout  io.Writer
	stderr  io.Writer
	opts    LogOptions
	colors  map[string]string
	names   []string
	width   int
	nextCol int
}

// NewLogPrinter returns a printer writing stdout lines to stdout and
// stderr lines to stderr.
func NewLogPrinter(stdout, stderr io.Writer, opts LogOptions) *LogPrinter {
	return &LogPrinter{stdout: stdout, stderr: stderr, opts: opts, colors: map[string]string{}}
}

var rainbow = []string{"36", "33", "32", "35", "34", "31", "36;1", "33;1", "32;1", "35;1", "34;1", "31;1"}

func (l *LogPrinter) display(container string) string {
	if l.opts.Project != "" {
		if s, ok := strings.CutPrefix(container, l.opts.Project+"-"); ok {
			return s
		}
	}
	return container
}

// Register announces a container so that prefixes are padded to the widest
// name from the start.
func (l *LogPrinter) Register(container, service string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.register(container)
}

func (l *LogPrinter) register(container string) {
	if _, ok := l.colors[container]; ok {
		return
	}
	l.colors[container] = rainbow[l.nextCol%len(rainbow)]
	l.nextCol++
	l.names = append(l.names, container)
	l.width = max(l.width, len(l.display(container))+1)
}

func (l *LogPrinter) prefix(container string) string {
	if !l.opts.Prefix {
		return ""
	}
	name := l.display(container)
	p := name + strings.Repeat(" ", max(l.width-len(name), 0)) + " | "
	if l.opts.Color {
		p = colorize(l.colors[container], p)
	}
	return p
}

// Log prints one line of a container's output.
func (l *LogPrinter) Log(container, service, stream string, t time.Time, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.register(container)
	w := l.stdout
	if stream == "stderr" && l.stderr != nil {
		w = l.stderr
	}
	var b strings.Builder
	b.WriteString(l.prefix(container))
	if l.opts.Timestamps {
		b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000000000Z"))
		b.WriteByte(' ')
	}
	b.Write(line)
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}

// Status prints a message about a container ("app-web-1 exited with code 0").
func (l *LogPrinter) Status(container, service, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.register(container)
	s := fmt.Sprintf("%s %s", l.display(container), msg)
	if l.opts.Color {
		s = colorize(l.colors[container], s)
	}
	_, _ = fmt.Fprintln(l.stdout, s)
}
