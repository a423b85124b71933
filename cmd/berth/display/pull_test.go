package display

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/berthdev/berth/scheduler"
)

// renderPull is renderFrames with the pull view.
func renderPull(steps frames, late ...scheduler.Event) string {
	var b bytes.Buffer
	v := newPullView(&b, "Pulling")
	return renderFrames(&b, v.Emit, v.liveView, steps, late)
}

// TestPullViewFrames pins the pull view's frames byte for byte: two
// images with a line per layer (bar, bytes and speed while downloading),
// the layers folded away when their image is done, marks and colours,
// timers, the blank lines that clear a shorter frame, the final frame of
// images only, and lines after Close.
func TestPullViewFrames(t *testing.T) {
	const alpine, busybox = "alpine:3.20", "busybox"
	layer := func(parent, id string, st scheduler.State, status string, cur, total int64, ms int) scheduler.Event {
		return scheduler.Event{Resource: id, Parent: parent, State: st, Status: status, Current: cur, Total: total, Time: at(ms)}
	}
	steps := frames{
		{at(2000), []scheduler.Event{
			{Resource: alpine, State: scheduler.Working, Status: "Pulling", Time: at(0)},
			{Resource: busybox, State: scheduler.Working, Status: "Pulling", Time: at(100)},
			layer(alpine, "a1b2c3d4e5f6", scheduler.Working, "Downloading", 0, 3_000_000, 100),
			layer(alpine, "0f0e0d0c0b0a", scheduler.Done, "Pull complete", 0, 0, 800),
			layer(alpine, "a1b2c3d4e5f6", scheduler.Working, "Downloading", 1_500_000, 3_000_000, 1100),
			layer(alpine, "111111111111", scheduler.Working, "Waiting", 0, 0, 200),
			layer(busybox, "bbbbbbbbbbbb", scheduler.Working, "Downloading", 0, 1000, 300),
			layer(busybox, "bbbbbbbbbbbb", scheduler.Working, "Extracting", 500, 1000, 1000),
			{Resource: "nope:1", State: scheduler.Error, Status: "Error", Text: "not found", Time: at(400)},
			{Resource: "warn", State: scheduler.Warning, Status: "Skipped", Text: "no image", Time: at(500)},
		}},
		{at(2500), []scheduler.Event{
			layer(busybox, "bbbbbbbbbbbb", scheduler.Done, "Pull complete", 1000, 1000, 2100),
			{Resource: busybox, State: scheduler.Done, Status: "Pulled", Time: at(2200)},
			layer(alpine, "a1b2c3d4e5f6", scheduler.Working, "Downloading", 2_400_000, 3_000_000, 2300),
		}},
		{at(3500), []scheduler.Event{
			{Resource: alpine, State: scheduler.Done, Status: "Pulled", Time: at(3000)},
		}},
	}
	checkGolden(t, "pull_frames.golden", renderPull(steps, scheduler.Event{Resource: alpine, State: scheduler.Done, Status: "Pulled", Text: "again"}))

	// More lines than the terminal has: the last 22 are shown.
	many := []scheduler.Event{{Resource: alpine, State: scheduler.Working, Status: "Pulling", Time: at(0)}}
	for i := range 25 {
		many = append(many, layer(alpine, fmt.Sprintf("layer%02d", i), scheduler.Working, "Downloading", int64(i)*100_000, 2_500_000, 10*i))
	}
	checkGolden(t, "pull_more.golden", renderPull(frames{{at(1000), many}, {at(2000), nil}}))
}

// TestPullViewClose runs the pull view as berth pull does: Close stops
// its redraws and leaves the final frame; a second Close does nothing.
func TestPullViewClose(t *testing.T) {
	var b bytes.Buffer
	d := NewPullView(&b, "Pulling")
	d.Emit(scheduler.Event{Resource: "alpine", State: scheduler.Working, Status: "Pulling", Time: at(0)})
	d.Emit(scheduler.Event{Resource: "alpine", State: scheduler.Done, Status: "Pulled", Time: at(1200)})
	d.Close()
	d.Close()
	if out := b.String(); !strings.Contains(out, "[+] Pulling 1/1") || !strings.HasSuffix(out, "\x1b[2m1.2s\x1b[0m\x1b[K\n\x1b[?25h") {
		t.Errorf("final frame: %q", out)
	}
}
