package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/monitor"
)

// TestLogRotation: the json-file log in docker's format, rotated at
// max-size into max-file files, read back whole and with tail, since and
// until; follow ends when the container stops.
func TestLogRotation(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	s := te.spec("chatty", "sh", "-c", "sleep 0.5; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; sleep 0.2; echo bye >&2")
	s.Logging = Logging{Driver: "json-file", Options: map[string]string{"max-size": "4k", "max-file": "3"}}
	c := te.run(s)
	var followed []string
	err := te.Logs(ctx, c.ID, LogsOptions{Follow: true, Tail: -1}, func(e LogEntry) error {
		followed = append(followed, string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	path := monitor.LogPath(te.paths, c.ID)
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Fatalf("log files %v, want 3 (max-file)", files)
	}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 4096 {
			t.Fatalf("%s has %d bytes, over max-size", f, fi.Size())
		}
	}
	data, _ := os.ReadFile(path)
	first, _, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(first, `{"log":"line-`) || !strings.Contains(first, `\n","stream":"stdout","time":"`) {
		t.Fatalf("not docker's json-file line: %s", first)
	}
	all := te.logs(c.ID)
	if all[len(all)-1] != "stderr: bye" || all[len(all)-2] != "stdout: line-299" {
		t.Fatalf("last lines %q", all[len(all)-2:])
	}
	// Rotation dropped the oldest lines but kept the order.
	for i := 1; i < len(all)-1; i++ {
		var a, b int
		fmt.Sscanf(all[i-1], "stdout: line-%d", &a)
		fmt.Sscanf(all[i], "stdout: line-%d", &b)
		if b != a+1 {
			t.Fatalf("out of order at %d: %q %q", i, all[i-1], all[i])
		}
	}
	// The follower saw, in order and once, every line still on disk and
	// those rotated away after it read them (a follower slower than
	// max-file rotations loses what is gone, as docker's).
	if followed[len(followed)-1] != "bye" || len(followed) < len(all) {
		t.Fatalf("follow saw %d lines (… %q), a read %d", len(followed), followed[len(followed)-1], len(all))
	}
	last := -1
	for _, l := range followed[:len(followed)-1] {
		var n int
		fmt.Sscanf(l, "line-%d", &n)
		if n <= last {
			t.Fatalf("follow: %q after line-%d", l, last)
		}
		last = n
	}
	var tail []string
	_ = te.Logs(ctx, c.ID, LogsOptions{Tail: 2}, func(e LogEntry) error { tail = append(tail, string(e.Line)); return nil })
	if !slices.Equal(tail, []string{"line-299", "bye"}) {
		t.Fatalf("tail 2: %q", tail)
	}
	var none int
	_ = te.Logs(ctx, c.ID, LogsOptions{Tail: -1, Since: time.Now().Add(time.Hour)}, func(LogEntry) error { none++; return nil })
	_ = te.Logs(ctx, c.ID, LogsOptions{Tail: -1, Until: time.Now().Add(-time.Hour)}, func(LogEntry) error { none++; return nil })
	if none != 0 {
		t.Fatalf("since/until let %d entries through", none)
	}
}

// TestEvents: create, start, die, destroy and health_status events, with
// the container's labels, followed as they happen.
func TestEvents(t *testing.T) {
	te := newTestEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := te.Events(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s := te.spec("ev", "sh", "-c", "sleep 0.2")
	s.Healthcheck = &Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Minute}
	c := te.run(s)
	if _, err := te.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := te.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"create", "start", "health_status: healthy", "die", "destroy"}
	var got []string
	for ev := range evs {
		if ev.ID != c.ID {
			continue
		}
		if ev.Attributes["com.docker.compose.project"] != te.project || ev.Attributes["name"] != c.Name {
			t.Fatalf("event without the container's labels: %+v", ev)
		}
		if ev.Action == "die" && ev.Attributes["exitCode"] != "0" {
			t.Fatalf("die: %+v", ev)
		}
		got = append(got, ev.Action)
		if ev.Action == "destroy" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	// The log keeps them for a later reader.
	var replay int
	past, err := te.Events(ctx, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for ev := range past {
		if ev.ID == c.ID {
			replay++
			if ev.Action == "destroy" {
				break
			}
		}
	}
	if replay != len(want) {
		t.Fatalf("replayed %d events", replay)
	}
}

// TestPauseRestartAutoRemove: pause and unpause (freezer), start again
// after an exit (the writable layer kept), auto-remove with the exit code
// still reported by Wait.
func TestPauseRestartAutoRemove(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("p", "sh", "-c", "echo $((`cat /count 2>/dev/null || echo 0`+1)) > /count; cat /count; exec sleep 1000"))
	// The first run has written /count before anything stops it (under
	// load, the stop below could kill the shell before it wrote it, and
	// the second run would count 1 again).
	te.waitLog(c.ID, "stdout: 1")
	if err := te.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := te.Inspect(ctx, c.ID)
	if got.State.Status != StatusPaused || !got.State.Paused || !got.State.Running {
		t.Fatalf("paused: %+v", got.State)
	}
	if _, err := te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"true"}}); err == nil {
		t.Fatal("exec into a paused container succeeded")
	}
	if err := te.Unpause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = te.Inspect(ctx, c.ID); got.State.Status != StatusRunning {
		t.Fatalf("unpaused: %+v", got.State)
	}
	if _, err := te.Stop(ctx, c.ID, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := te.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	te.waitLog(c.ID, "stdout: 2") // the same writable layer
	if err := te.Kill(ctx, c.ID, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	if code, err := te.Wait(ctx, c.ID); err != nil || code != 137 {
		t.Fatalf("wait after kill: %d %v", code, err)
	}

	s := te.spec("once", "sh", "-c", "exit 6")
	s.AutoRemove = true
	c = te.run(s)
	if code, err := te.Wait(ctx, c.ID); err != nil || code != 6 {
		t.Fatalf("wait of an auto-removed container: %d %v", code, err)
	}
	if _, err := te.Inspect(ctx, c.ID); err == nil {
		t.Fatal("auto-removed container still there")
	}
}

// TestAfterReboot: after a reboot (empty volatile directory, another boot
// id) a container that was running shows as exited, and can be started
// and removed.
func TestAfterReboot(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("boot", "sleep", "1000"))
	// What was persisted came from the previous boot.
	var last monitor.State
	lastPath := filepath.Join(te.paths.Container(c.ID), monitor.LastStateFile)
	if err := readJSON(lastPath, &last); err != nil || last.Status != monitor.StatusRunning {
		t.Fatalf("persistent state %+v %v", last, err)
	}
	rebooted := te.reboot(c)
	got, err := rebooted.Inspect(ctx, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.Running || got.State.ExitCode != 255 {
		t.Fatalf("after reboot: %+v", got.State)
	}
	if err := rebooted.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = rebooted.Inspect(ctx, c.ID); !got.State.Running {
		t.Fatalf("started after reboot: %+v", got.State)
	}
	if err := rebooted.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// TestHealthTimeoutAndNone: a probe over its timeout is killed and counts
// as a failure with docker's output; test NONE disables the image's check.
func TestHealthTimeoutAndNone(t *testing.T) {
	te := newTestEngine(t)
	s := te.spec("slow", "sleep", "1000")
	s.Healthcheck = &Healthcheck{Test: []string{"CMD", "sleep", "5"}, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond, Retries: 1}
	c := te.run(s)
	got := te.waitFor(c.ID, "unhealthy", func(c *Container) bool { return c.State.Health != nil && c.State.Health.Status == HealthUnhealthy })
	p := got.State.Health.Log[0]
	if p.ExitCode != -1 || p.Output != "Health check exceeded timeout (200ms)" || p.End.Sub(p.Start) > 3*time.Second {
		t.Fatalf("timed-out probe: %+v", p)
	}
	s = te.spec("none", "sleep", "1000")
	s.Healthcheck = &Healthcheck{Test: []string{"NONE"}}
	c = te.run(s)
	if got, _ := te.Inspect(context.Background(), c.ID); got.State.Health != nil {
		t.Fatalf("health with test NONE: %+v", got.State.Health)
	}
}
