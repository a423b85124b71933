package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a buffer written by a running command and read by the
// test meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// background is a command running in-process until stopped.
type background struct {
	stdout, stderr *lockedBuffer
	cancel         context.CancelFunc
	code           chan int
	once           sync.Once
	status         int
}

// stop cancels the command as Ctrl-C does and returns its exit status.
func (bg *background) stop() int {
	bg.once.Do(func() {
		bg.cancel()
		bg.status = <-bg.code
	})
	return bg.status
}

// start runs a command in the background until stop (at the latest, the
// test's cleanup).
func (l *lifecycle) start(args ...string) *background {
	bg := &background{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, code: make(chan int, 1)}
	c := &cli{stdin: strings.NewReader(""), stdout: bg.stdout, stderr: bg.stderr,
		environ: map[string]string{"PATH": os.Getenv("PATH")}, workingDir: l.dir}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bg.cancel = cancel
	go func() {
		bg.code <- c.execute(ctx, append([]string{"--root", l.root, "-p", l.project, "--progress", "plain"}, args...))
	}()
	l.t.Cleanup(func() { bg.stop() })
	return bg
}

// eventually polls cond until it holds, generously: the machine may be
// loaded, and a batch waits for 500 ms of quiet before it is applied.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 90s: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *lifecycle) writeFile(name, content string) {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// inWeb runs a shell command in the web container and returns its output
// and whether it succeeded.
func (l *lifecycle) inWeb(script string) (string, bool) {
	out, _, code := l.run("exec", "-T", "-u", "0", "web", "sh", "-c", script)
	return strings.TrimSpace(out), code == 0
}

const watchCompose = `
services:
  web:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "echo started >> /tmp/starts; trap 'exit 0' TERM; sleep 3600 & wait"]
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync
          ignore: ["*.tmp"]
        - path: ./conf
          target: /etc/web
          action: sync+restart
        - path: ./hooks
          target: /hooks
          action: sync+exec
          exec:
            command: ["sh", "-c", "echo hook saw $$(cat /hooks/h)"]
`

// TestWatchRoot runs `berth watch` on a stack and checks what reaches the
// container: a written file, a nested new
// directory, a removal, an ignored file, a symlink planted in the
// container (replaced, never followed to the host), sync+restart and
// sync+exec; a second watch of the project is refused; Ctrl-C ends it
// with 130.
func TestWatchRoot(t *testing.T) {
	l := newLifecycle(t, "watch")
	l.write(watchCompose)
	l.writeFile("src/keep.txt", "kept")
	if err := os.MkdirAll(filepath.Join(l.dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(l.dir, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	bg := l.start("watch")
	eventually(t, "Watch enabled", func() bool { return strings.Contains(bg.stdout.String(), "Watch enabled") })
	if errs := bg.stderr.String(); !strings.Contains(errs, "Container "+l.project+"-web-1 Started") {
		t.Errorf("watch did not bring the service up:\n%s", errs)
	}

	// A second watch of the same project is refused while this one runs.
	_, errs, code := l.run("watch", "--no-up")
	if code == 0 || !strings.Contains(errs, "cannot take exclusive lock for project") {
		t.Errorf("second watch: exit %d\n%s", code, errs)
	}

	l.writeFile("src/hello.txt", "hello 1")
	eventually(t, "hello.txt synced", func() bool {
		out, ok := l.inWeb("cat /app/hello.txt")
		return ok && out == "hello 1"
	})
	if out, _ := l.inWeb("test -e /app/keep.txt || echo absent"); out != "absent" {
		t.Error("a file older than the watch was synced without initial_sync")
	}

	// An ignored file written before a wanted one: once the wanted one is
	// there, the ignored one was seen and dropped.
	l.writeFile("src/skip.tmp", "no")
	l.writeFile("src/a/b/c/deep.txt", "deep")
	eventually(t, "nested directory synced", func() bool {
		out, ok := l.inWeb("cat /app/a/b/c/deep.txt")
		return ok && out == "deep"
	})
	if out, _ := l.inWeb("test -e /app/skip.tmp || echo absent"); out != "absent" {
		t.Error("ignored *.tmp file synced")
	}

	// A symlink in the container pointing at a host path: sync replaces
	// the link and never writes through it.
	escape := filepath.Join(t.TempDir(), "escape")
	if _, ok := l.inWeb("ln -s " + escape + " /app/link"); !ok {
		t.Fatal("cannot plant the symlink")
	}
	l.writeFile("src/link", "replaced")
	eventually(t, "symlink replaced", func() bool {
		out, ok := l.inWeb("test -f /app/link && ! test -L /app/link && cat /app/link")
		return ok && out == "replaced"
	})
	if _, err := os.Lstat(escape); err == nil {
		t.Errorf("sync wrote through a container symlink to the host: %s exists", escape)
	}

	if err := os.Remove(filepath.Join(l.dir, "src", "hello.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(l.dir, "src", "a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "removals synced", func() bool {
		out, _ := l.inWeb("test -e /app/hello.txt || test -e /app/a || echo gone")
		return out == "gone"
	})

	l.writeFile("conf/web.conf", "v1")
	eventually(t, "sync+restart", func() bool {
		starts, _ := l.inWeb("wc -l < /tmp/starts")
		conf, _ := l.inWeb("cat /etc/web/web.conf")
		return starts == "2" && conf == "v1"
	})
	eventually(t, "restart reported", func() bool {
		return strings.Contains(bg.stdout.String(), `service(s) ["web"] restarted`)
	})

	l.writeFile("hooks/h", "hook-1")
	eventually(t, "sync+exec output", func() bool { return strings.Contains(bg.stdout.String(), "hook saw hook-1") })

	if code := bg.stop(); code != 130 {
		t.Errorf("watch ended by Ctrl-C: exit %d, want 130\n%s", code, bg.stderr.String())
	}
	out := bg.stdout.String()
	for _, want := range []string{`Syncing service "web" after`, "Watch disabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(bg.stderr.String(), "Error handling changed files") {
		t.Errorf("a batch failed:\n%s", bg.stderr.String())
	}
}

// TestWatchRootNoRules: a project without develop.watch is refused before
// anything is started.
func TestWatchRootNoRules(t *testing.T) {
	l := newLifecycle(t, "nowatch")
	l.write(`
services:
  web:
    image: 127.0.0.1:5000/busybox:1
    command: ["sleep", "3600"]
`)
	_, errs, code := l.run("watch")
	if code != 1 || !strings.Contains(errs, "none of the selected services is configured for watch") {
		t.Errorf("exit %d\n%s", code, errs)
	}
	if ids := l.ids(); len(ids) != 0 {
		t.Errorf("containers started by a refused watch: %v", ids)
	}
}

// TestWatchRootInitialSync: initial_sync copies, before "Watch enabled",
// the files written after the image was made, owned by the container's
// user.
func TestWatchRootInitialSync(t *testing.T) {
	l := newLifecycle(t, "wsync")
	l.write(`
services:
  web:
    image: 127.0.0.1:5000/busybox:1
    user: "1000:1000"
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync
          initial_sync: true
`)
	l.writeFile("src/pre/existing.txt", "before")
	l.must("up", "-d")
	bg := l.start("watch", "--no-up")
	eventually(t, "Watch enabled", func() bool { return strings.Contains(bg.stdout.String(), "Watch enabled") })
	if out, ok := l.inWeb("cat /app/pre/existing.txt"); !ok || out != "before" {
		t.Errorf("initial_sync: /app/pre/existing.txt = %q (ok %v)", out, ok)
	}
	if out, _ := l.inWeb("stat -c %u:%g /app/pre/existing.txt"); out != "1000:1000" {
		t.Errorf("synced file owned by %q, want the container's user 1000:1000", out)
	}
}
