package display

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berthdev/berth/scheduler"
)

// t0 is the tests' start of time.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// checkGolden compares got, its escapes and carriage returns spelled \e
// and \r so that the file reads as text, with testdata/name;
// BERTH_UPDATE_GOLDEN=1 rewrites the file.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	got = strings.NewReplacer("\x1b", `\e`, "\r", `\r`).Replace(got)
	path := filepath.Join("testdata", name)
	if os.Getenv("BERTH_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

// frames are the events of a live view test, drawn as frames: the
// events of each step are emitted, then a frame is drawn at the step's
// clock; the last frame is the final one.
type frames []struct {
	clock  time.Time
	events []scheduler.Event
}

// renderFrames draws steps with a live view (its Emit and liveView)
// that writes to b, so 80 columns and 24 lines, without its redraw loop,
// and then emits late (after the view is closed).
func renderFrames(b *bytes.Buffer, emit func(scheduler.Event), l *liveView, steps frames, late []scheduler.Event) string {
	for i, s := range steps {
		for _, e := range s.events {
			emit(e)
		}
		l.now = func() time.Time { return s.clock }
		l.draw(i == len(steps)-1)
	}
	l.closed = true
	for _, e := range late {
		emit(e)
	}
	return b.String()
}

// renderTTY is renderFrames with the compose view.
func renderTTY(prefix string, steps frames, late ...scheduler.Event) string {
	var b bytes.Buffer
	t := newTTY(&b, "Running", prefix)
	return renderFrames(&b, t.Emit, t.liveView, steps, late)
}

// TestTTYFrames pins the compose view's frames byte for byte: states,
// marks and colours, timers, aligned columns, a parent's bytes summed
// from its children, the detail cut to the width, the dry-run prefix, the
// blank lines that clear a longer frame, and lines after Close.
func TestTTYFrames(t *testing.T) {
	steps := frames{
		{at(2500), []scheduler.Event{
			{Resource: "Network app_default", State: scheduler.Working, Status: "Creating", Time: at(0)},
			{Resource: "Image web", State: scheduler.Working, Status: "Pulling", Time: at(0)},
			{Resource: "l1", Parent: "Image web", State: scheduler.Working, Status: "Downloading", Current: 1 << 20, Total: 4 << 20, Time: at(500)},
			{Resource: "l2", Parent: "Image web", State: scheduler.Working, Status: "Downloading", Current: 512 << 10, Total: 1 << 20, Time: at(600)},
			{Resource: "Container app-db-1", State: scheduler.Done, Status: "Started", Time: at(300)},
			{Resource: "Container app-worker-1", State: scheduler.Working, Status: "Starting",
				Text: "waiting for the database to accept connections on port 5432", Time: at(400)},
			{Resource: "Container app-x-1", State: scheduler.Error, Status: "Error", Text: "boom", Time: at(700)},
			{Resource: "Container app-y-1", State: scheduler.Warning, Status: "Unhealthy", Time: at(800)},
			{Status: "Orphan", Text: "message", Time: at(900)},
		}},
		{at(3000), []scheduler.Event{
			{Resource: "Network app_default", State: scheduler.Done, Status: "Created", Time: at(1000)},
			{Resource: "l1", Parent: "Image web", State: scheduler.Done, Status: "Pull complete", Time: at(2000)},
		}},
		{at(3500), []scheduler.Event{
			{Resource: "Image web", State: scheduler.Done, Status: "Pulled", Time: at(3100)},
			{Resource: "Container app-worker-1", State: scheduler.Done, Status: "Started", Time: at(3200)},
		}},
	}
	got := renderTTY("", steps, scheduler.Event{Resource: "Container app-db-1", State: scheduler.Done, Status: "Stopped", Text: "late"})
	checkGolden(t, "tty_frames.golden", got)
	got = renderTTY("DRY-RUN MODE - ", frames{{at(100), []scheduler.Event{{Resource: "Container a-1", State: scheduler.Working, Status: "Creating", Time: at(0)}}},
		{at(200), []scheduler.Event{{Resource: "Container a-1", State: scheduler.Done, Status: "Created", Time: at(150)}}}},
		scheduler.Event{Resource: "Container a-1", State: scheduler.Done, Status: "Removed"})
	checkGolden(t, "tty_dry_run.golden", got)
	if empty := renderTTY("", frames{{at(0), nil}}); empty != "" {
		t.Errorf("nothing to show, yet %q", empty)
	}
	var many []scheduler.Event
	for i := range 30 {
		many = append(many, scheduler.Event{Resource: fmt.Sprintf("Container app-s%d-1", i), State: scheduler.State(i % 2), Status: "Started", Time: at(10 * i)})
	}
	got = renderTTY("", frames{{at(1000), many}, {at(2000), nil}})
	checkGolden(t, "tty_more.golden", got)
}

// TestRowFitsWidth checks a resource line against the width: the timer
// ends at the last column but one, and a detail too long for the line is
// cut so that one space stays before the timer, in both views' layouts.
func TestRowFitsWidth(t *testing.T) {
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, indent := range []string{" ", "   "} {
		fits := 39 - (len(indent) + 2 + 5 + 1 + 9 + 1) - len(" 1.5s")
		for n := 0; n <= 60; n++ {
			f := &frame{width: 40, now: at(1500), spin: "⠋"}
			f.row(resourceRow{indent: indent, state: scheduler.Working, id: "web", status: "Pulling",
				detail: strings.Repeat("x", n), idWidth: 5, statusWidth: 9, start: at(0)})
			line := ansi.ReplaceAllString(f.lines[0], "")
			if utf8.RuneCountInString(line) != 39 || !strings.HasSuffix(line, " 1.5s") || strings.Count(line, "x") != min(n, fits) {
				t.Errorf("indent %q, detail of %d: %q", indent, n, line)
			}
		}
	}
}
