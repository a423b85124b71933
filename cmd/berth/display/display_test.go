package display

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/scheduler"
)

func TestPlainAndJSON(t *testing.T) {
	events := []scheduler.Event{
		{Resource: "Network app_default", State: scheduler.Working, Status: "Creating"},
		{Resource: "Network app_default", State: scheduler.Done, Status: "Created"},
		{Resource: "Container app-db-1", State: scheduler.Done, Status: "Stopped", Text: "killed after 0s: PID 1 ignores SIGTERM"},
		{Resource: "Layer 1", Parent: "Image x", State: scheduler.Working, Status: "Downloading", Current: 5, Total: 10},
	}
	tests := []struct {
		mode, want string
		dry        bool
	}{
		{ModePlain, ` Network app_default Creating
 Network app_default Created
 Container app-db-1 Stopped killed after 0s: PID 1 ignores SIGTERM
`, false},
		{ModePlain, `DRY-RUN MODE -  Network app_default Creating
DRY-RUN MODE -  Network app_default Created
DRY-RUN MODE -  Container app-db-1 Stopped killed after 0s: PID 1 ignores SIGTERM
`, true},
		{ModeJSON, `{"id":"Network app_default","status":"working","text":"Creating"}
{"id":"Network app_default","status":"done","text":"Created"}
{"id":"Container app-db-1","status":"done","text":"Stopped","details":"killed after 0s: PID 1 ignores SIGTERM"}
{"id":"Layer 1","parent_id":"Image x","status":"working","text":"Downloading","current":5,"total":10,"percent":50}
`, false},
		{ModeQuiet, ``, false},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		d, err := New(&b, Options{Mode: tc.mode, DryRun: tc.dry})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			d.Emit(e)
		}
		d.Close()
		if b.String() != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.mode, b.String(), tc.want)
		}
	}
	if _, err := New(&bytes.Buffer{}, Options{Mode: "fancy"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestAutoIsPlainOffTerminal(t *testing.T) {
	d, err := New(&bytes.Buffer{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*plainWriter); !ok {
		t.Errorf("auto on a buffer gave %T", d)
	}
}

func TestTTYFinalFrame(t *testing.T) {
	var b bytes.Buffer
	d, err := New(&b, Options{Mode: ModeTTY, Title: "Running"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	d.Emit(scheduler.Event{Resource: "Network app_default", State: scheduler.Working, Status: "Creating", Time: t0})
	d.Emit(scheduler.Event{Resource: "Network app_default", State: scheduler.Done, Status: "Created", Time: t0.Add(100 * time.Millisecond)})
	d.Emit(scheduler.Event{Resource: "Container app-db-1", State: scheduler.Done, Status: "Healthy", Time: t0.Add(1200 * time.Millisecond)})
	d.Close()
	out := b.String()
	// The last frame is what remains on screen.
	for _, want := range []string{"[+] Running 2/2", "Network app_default ", "Created", "0.1s", "Container app-db-1  ", "Healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("frame lacks %q:\n%q", want, out)
		}
	}
}

func TestLogPrinter(t *testing.T) {
	var out, errw bytes.Buffer
	l := NewLogPrinter(&out, &errw, LogOptions{Prefix: true, Project: "app"})
	l.Register("app-web-1", "web")
	l.Register("app-db-1", "db")
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	l.Log("app-web-1", "web", "stdout", ts, []byte("hello"))
	l.Log("app-db-1", "db", "stderr", ts, []byte("oops"))
	l.Status("app-db-1", "db", "exited with code 0")
	if got, want := out.String(), "web-1  | hello\ndb-1 exited with code 0\n"; got != want {
		t.Errorf("stdout %q want %q", got, want)
	}
	if got, want := errw.String(), "db-1   | oops\n"; got != want {
		t.Errorf("stderr %q want %q", got, want)
	}
	out.Reset()
	l2 := NewLogPrinter(&out, nil, LogOptions{Timestamps: true})
	l2.Log("c", "s", "stdout", ts, []byte("x"))
	if got, want := out.String(), "2026-01-02T03:04:05.000000006Z x\n"; got != want {
		t.Errorf("no prefix %q want %q", got, want)
	}
}
