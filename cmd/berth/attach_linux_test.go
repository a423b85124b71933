package main

import (
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

const attachCompose = `
services:
  reader:
    image: 127.0.0.1:5000/busybox:1
    stdin_open: true
    command: ["sh", "-c", "read x; echo got $$x; exit 3"]
  cat:
    image: 127.0.0.1:5000/busybox:1
    stdin_open: true
    command: ["cat"]
  shell:
    image: 127.0.0.1:5000/busybox:1
    stdin_open: true
    tty: true
    command: ["sh"]
  ticker:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'echo got-int; exit 5' INT; while :; do echo tick; sleep 0.1; done"]
  quiet:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`

// TestLifecycleRootAttach: attach connects the streams to a service's
// container; the exit code is the container's; the detach keys leave it
// running with its stdin open for the next attach; a stopped container
// cannot be attached.
func TestLifecycleRootAttach(t *testing.T) {
	l := newLifecycle(t, "att")
	l.write(attachCompose)
	l.must("up", "-d")

	// Input reaches the process; its exit code is attach's.
	var out lockedBuffer
	code := l.runIO(strings.NewReader("hi\n"), &out, io.Discard, "attach", "reader")
	if code != 3 || !strings.Contains(out.String(), "got hi") {
		t.Errorf("attach reader: exit %d, output %q; want 3 and %q", code, out.String(), "got hi")
	}

	// Detach: type a line, wait for its echo, then Ctrl-P Ctrl-Q.
	attachAndDetach := func(line string) string {
		t.Helper()
		// A pipe with the kernel's buffer: writes never wait for a reader.
		in, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		defer w.Close()
		var out lockedBuffer
		done := make(chan int, 1)
		go func() { done <- l.runIO(in, &out, io.Discard, "attach", "cat") }()
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), line); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("attach cat: no echo of %q in %q", line, out.String())
			}
		}
		if _, err := io.WriteString(w, "\x10\x11"); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("attach cat: detach exit %d, want 0", code)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("attach cat: the detach keys did not end the attach")
		}
		return out.String()
	}
	attachAndDetach("one")
	if got := l.ids()[l.project+"-cat-1"]; !strings.HasSuffix(got, "running") {
		t.Fatalf("after a detach, cat is %q, want running", got)
	}
	if out := attachAndDetach("two"); strings.Contains(out, "\x10") {
		t.Errorf("the detach keys reached the container: %q", out)
	}

	// A terminal: berth's is put in raw mode and its size goes to the
	// container's; the detach keys still work.
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer pts.Close()
	if err := pty.Setsize(ptm, &pty.Winsize{Rows: 31, Cols: 97}); err != nil {
		t.Fatal(err)
	}
	var screen lockedBuffer
	go func() { _, _ = io.Copy(&screen, ptm) }()
	attached := make(chan int, 1)
	go func() { attached <- l.runIO(pts, pts, io.Discard, "attach", "shell") }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(screen.String(), "31 97"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("attach shell: no terminal size in %q", screen.String())
		}
		_, _ = io.WriteString(ptm, "stty size\r")
	}
	_, _ = io.WriteString(ptm, "\x10\x11")
	select {
	case code := <-attached:
		if code != 0 {
			t.Errorf("attach shell: detach exit %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach shell: the detach keys did not end the attach")
	}

	// --sig-proxy (the default): berth's SIGINT goes to the container and
	// the attach lasts until its process exits, with its exit code.
	var ticks lockedBuffer
	ended := make(chan int, 1)
	go func() { ended <- l.runIO(strings.NewReader(""), &ticks, io.Discard, "attach", "ticker") }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(ticks.String(), "tick"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("attach ticker: no output: %q", ticks.String())
		}
	}
	// The attach is streaming, so its signal handler is in place: the
	// test process's SIGINT goes to it, not to the default action.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-ended:
		if code != 5 || !strings.Contains(ticks.String(), "got-int") {
			t.Errorf("attach ticker after SIGINT: exit %d, output ends %q; want 5 and got-int", code, tail(ticks.String()))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach ticker: SIGINT did not reach the container")
	}

	// --no-stdin on a container with stdin: the input is not sent; the
	// attach ends when the container stops.
	done := make(chan int, 1)
	go func() {
		done <- l.runIO(strings.NewReader("lost\n"), io.Discard, io.Discard, "attach", "--no-stdin", "quiet")
	}()
	time.Sleep(200 * time.Millisecond)
	l.must("stop", "quiet")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("attach quiet: exit %d after stop, want 0 (its exit code)", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach quiet: did not end when the container stopped")
	}

	_, errs, code := l.run("attach", "quiet")
	if code == 0 || !strings.Contains(errs, "is not running") || !strings.Contains(errs, "start it first") {
		t.Errorf("attach to a stopped container: exit %d:\n%s", code, errs)
	}
}

func tail(s string) string {
	if len(s) > 80 {
		return s[len(s)-80:]
	}
	return s
}
