package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/testutil"
)

// TestMain runs the container init when the test binary is re-executed as
// `__init` (Start uses /proc/self/exe, which is the test binary here).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitArg {
		Init()
	}
	code := m.Run()
	if fixture.dir != "" {
		_ = os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// fixture is the busybox root filesystem shared by the tests (read-only
// use; tests that change the image build their own with makeRootfs).
var fixture struct {
	once sync.Once
	dir  string
	err  error
}

func busyboxRootfs(t testing.TB) string {
	t.Helper()
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "berth-rt-rootfs-")
		if fixture.err == nil {
			fixture.err = makeRootfs(fixture.dir)
		}
	})
	if fixture.err != nil {
		t.Fatalf("busybox rootfs: %v", fixture.err)
	}
	return fixture.dir
}

// makeRootfs builds a minimal image in dir from the host's busybox-static:
// applets as symlinks, a root and a non-root user, groups.
func makeRootfs(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed: %w", err)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "home/app", "var", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chown(filepath.Join(dir, "home/app"), 1000, 1000); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return err
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "bin/busybox" {
			continue
		}
		if err := os.Symlink("/bin/busybox", filepath.Join(dir, p)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\ntty:x:5:\napp:x:1000:\nextra:x:2000:app\nmore:x:3000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// spec is a container on the busybox fixture with docker's defaults.
func spec(t testing.TB, args ...string) SpecInput {
	return SpecInput{
		ID:        "t" + strings.ReplaceAll(t.Name(), "/", "-"),
		Rootfs:    []mount.Mount{{Type: "bind", Source: busyboxRootfs(t), Options: []string{"rbind"}}},
		RootfsDir: filepath.Join(t.TempDir(), "rootfs"),
		Args:      args,
		Env:       []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Hostname:  "ctr",
	}
}

func build(t testing.TB, in SpecInput) Config {
	t.Helper()
	cfg, err := BuildConfig(in)
	if err != nil {
		t.Fatalf("BuildConfig: %v", err)
	}
	return cfg
}

// run starts cfg, collects stdout and stderr together and waits.
func run(t testing.TB, cfg Config) (string, int) {
	t.Helper()
	out, code, err := tryRun(t, cfg)
	if err != nil {
		t.Fatalf("start %v: %v", cfg.Args, err)
	}
	return out, code
}

func tryRun(t testing.TB, cfg Config) (string, int, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg, StartOptions{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		return "", 0, err
	}
	done := make(chan struct{})
	var buf bytes.Buffer
	go func() { _, _ = io.Copy(&buf, r); close(done) }()
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	<-done
	return buf.String(), st.Code, nil
}

// started starts cfg in the background and stops it when the test ends.
func started(t *testing.T, cfg Config) *Process {
	t.Helper()
	p, err := Start(context.Background(), cfg, StartOptions{})
	if err != nil {
		t.Fatalf("start %v: %v", cfg.Args, err)
	}
	t.Cleanup(func() {
		_ = p.Signal(9)
		_, _ = p.Wait()
	})
	return p
}

func requireRoot(t *testing.T) {
	t.Helper()
	testutil.RequiresRoot(t)
}
