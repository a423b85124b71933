package watch

import (
	"context"
	"slices"
	"testing"
	"time"
)

// receive waits (generously) for the next batch.
func receive(t *testing.T, out <-chan []string) []string {
	t.Helper()
	select {
	case b, ok := <-out:
		if !ok {
			t.Fatal("batches closed")
		}
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("no batch in 30s")
	}
	return nil
}

// TestDebounceGroups: paths sent within the quiet period make one sorted
// batch, each path once. The period is long enough that a loaded machine
// cannot split the three sends.
func TestDebounceGroups(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan string)
	out := Debounce(ctx, 2*time.Second, in)
	start := time.Now()
	for _, p := range []string{"/b", "/a", "/b"} {
		in <- p
	}
	got := receive(t, out)
	if want := []string{"/a", "/b"}; !slices.Equal(got, want) {
		t.Fatalf("batch %q, want %q", got, want)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Errorf("batch came after %v, before the quiet period", waited)
	}
}

// TestDebounceBusyReader: changes that settle while the reader is busy
// are merged into one next batch, and the sender never blocks.
func TestDebounceBusyReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan string)
	out := Debounce(ctx, 20*time.Millisecond, in)
	in <- "/1"
	if got := receive(t, out); !slices.Equal(got, []string{"/1"}) {
		t.Fatalf("first batch %q", got)
	}
	// Nobody reads: two quiet periods pass with sends in between.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		in <- "/2"
		time.Sleep(100 * time.Millisecond) // let the first settle alone
		in <- "/3"
		in <- "/4"
	}()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("sender blocked by a busy reader")
	}
	// Whatever the timing, /2, /3 and /4 come out, each once, with
	// nothing else.
	seen := map[string]int{}
	for len(seen) < 3 {
		for _, p := range receive(t, out) {
			seen[p]++
		}
	}
	if seen["/2"] != 1 || seen["/3"] != 1 || seen["/4"] != 1 || len(seen) != 3 {
		t.Errorf("after a busy reader: %v", seen)
	}
}

// TestDebounceCloseFlushes: closing the input sends what was pending and
// closes the output.
func TestDebounceCloseFlushes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan string)
	out := Debounce(ctx, time.Hour, in)
	in <- "/x"
	close(in)
	if got := receive(t, out); !slices.Equal(got, []string{"/x"}) {
		t.Fatalf("flushed batch %q", got)
	}
	if _, ok := <-out; ok {
		t.Fatal("output not closed after the input")
	}
}

// TestDebounceCancel: a cancelled context closes the output.
func TestDebounceCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan string)
	out := Debounce(ctx, time.Hour, in)
	in <- "/x"
	cancel()
	select {
	case _, ok := <-out:
		if ok {
			t.Fatal("batch sent after cancel")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("output not closed after cancel")
	}
}
