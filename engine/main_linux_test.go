package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/runtime"
	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/engine/testutil"
	"github.com/containerd/errdefs"
)

// TestMain dispatches the re-exec entry points: the test binary is
// /proc/self/exe for the monitors and inits the tests start.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case runtime.InitArg:
			runtime.Init()
		case monitor.Arg:
			p, id, err := monitor.ParseArgs(os.Args)
			if err != nil {
				os.Exit(2)
			}
			monitor.Main(monitor.MainOptions{Paths: p, ID: id})
		case cliArg:
			os.Exit(testCLI(os.Args[2:]))
		}
	}
	if os.Getenv(monitor.ReexecEnv) != "" {
		fmt.Fprintln(os.Stderr, "re-executed test binary did not dispatch", os.Args)
		os.Exit(3)
	}
	code := m.Run()
	if fixture.dir != "" {
		_ = os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// cliArg runs a berth-like command in a child process (testCLI), to show
// that containers outlive the process that started them.
const cliArg = "__enginetest_cli"

// testCLI: <root> <run> start|stop|rm <id>
func testCLI(args []string) int {
	if len(args) < 4 {
		return 2
	}
	paths := state.Paths{Root: args[0], Run: args[1]}
	var images Images = busyboxImages{}
	var snaps Snapshotter = dirSnapshotter{}
	if _, err := os.Stat(paths.Images()); err == nil {
		store, err := image.New(image.Options{Root: paths.Images(), Snapshots: paths.Snapshots()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		images, snaps = store, store.Snapshotter()
	}
	e, err := New(Options{Paths: paths, Images: images, Snapshotter: snaps})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	switch args[2] {
	case "start":
		err = e.Start(ctx, args[3])
	case "stop":
		_, err = e.Stop(ctx, args[3], StopOptions{})
	case "rm":
		err = e.Remove(ctx, args[3], RemoveOptions{Force: true})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fixture is a busybox root filesystem built from the host's busybox-static,
// shared read-only by the tests (containers write to their own upper dir).
var fixture struct {
	once sync.Once
	dir  string
	err  error
}

func busyboxDir(t testing.TB) string {
	t.Helper()
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "berth-engine-rootfs-")
		if fixture.err == nil {
			fixture.err = makeBusybox(fixture.dir)
		}
	})
	if fixture.err != nil {
		t.Fatalf("busybox rootfs: %v", fixture.err)
	}
	return fixture.dir
}

func makeBusybox(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "var", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
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
		if p != "bin/busybox" {
			if err := os.Symlink("/bin/busybox", filepath.Join(dir, p)); err != nil && !os.IsExist(err) {
				return err
			}
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// busyboxImages is an image store holding one image, "busybox", whose
// single layer is the fixture directory (chain id "busybox").
type busyboxImages struct{}

func (busyboxImages) Get(ctx context.Context, ref string) (*image.Image, error) {
	if ref != "busybox" {
		return nil, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return &image.Image{
		ID:       "sha256:" + strings.Repeat("b", 64),
		Config:   image.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		ChainIDs: []string{"busybox"},
	}, nil
}

// dirSnapshotter prepares an overlay over the fixture directory with the
// container's own upper and work directories, as the real snapshotter does
// over unpacked layers.
type dirSnapshotter struct{}

func (dirSnapshotter) Prepare(ctx context.Context, dir string, chainIDs []string) ([]mount.Mount, error) {
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + fixture.dir, "upperdir=" + upper, "workdir=" + work}}}, nil
}

func (dirSnapshotter) Cleanup(ctx context.Context, dir string) error {
	for _, d := range []string{"upper", "work"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// testEngine is an engine on a throwaway root, with a unique compose
// project so that its cgroups are its own; at the end every container is
// removed and leaks (monitors, cgroups, files) fail the test.
type testEngine struct {
	*Engine
	t       testing.TB
	project string
	image   string
	snaps   Snapshotter
}

// registryUp reports whether the fixture registry answers.
func registryUp() bool {
	c, err := net.DialTimeout("tcp", testutil.Registry, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func newTestEngine(t testing.TB) *testEngine {
	t.Helper()
	testutil.RequiresRoot(t)
	busyboxDir(t)
	root := t.TempDir()
	paths, err := state.NewPaths(root)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture registry's busybox through the real image store when it
	// answers; else the busybox directory as the only layer.
	var images Images = busyboxImages{}
	var snaps Snapshotter = dirSnapshotter{}
	ref := "busybox"
	if registryUp() {
		store, err := image.New(image.Options{Root: paths.Images(), Snapshots: paths.Snapshots()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Pull(context.Background(), testutil.BusyboxImage, image.PullOptions{}); err != nil {
			t.Fatalf("pull %s: %v", testutil.BusyboxImage, err)
		}
		images, snaps, ref = store, store.Snapshotter(), testutil.BusyboxImage
	}
	e, err := New(Options{Paths: paths, Images: images, Snapshotter: snaps})
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	te := &testEngine{Engine: e, t: t, project: "bt" + hex.EncodeToString(b[:]), image: ref, snaps: snaps}
	t.Cleanup(te.cleanup)
	return te
}

func (te *testEngine) cleanup() {
	t := te.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := te.List(ctx, ListOptions{All: true})
	if err != nil {
		t.Errorf("cleanup: list: %v", err)
	}
	for _, c := range cs {
		if err := te.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove %s: %v", c.Name, err)
		}
	}
	// No monitor, no cgroup, no container file may be left.
	if ids, _ := te.ids(); len(ids) > 0 {
		t.Errorf("leak: container directories %v", ids)
	}
	if ents, _ := os.ReadDir(filepath.Join(te.paths.Run, "containers")); len(ents) > 0 {
		for _, de := range ents {
			if te.monitorAlive(de.Name()) {
				t.Errorf("leak: monitor of %s still running", de.Name())
			}
		}
	}
	for _, h := range []string{"memory", "pids", "cpu", "freezer", "unified"} {
		p := filepath.Join("/sys/fs/cgroup", h, "berth", te.project)
		if _, err := os.Stat(p); err == nil {
			t.Errorf("leak: cgroup %s", p)
		}
	}
	_ = os.RemoveAll(te.paths.Run)
}

// spec is a busybox container of the test's project running args.
func (te *testEngine) spec(name string, args ...string) ContainerSpec {
	return ContainerSpec{
		Name:    te.project + "-" + name,
		Image:   te.image,
		Labels:  map[string]string{"com.docker.compose.project": te.project, "com.docker.compose.service": name},
		Cmd:     args,
		Network: NetworkSpec{Mode: "none"},
	}
}

// run creates and starts spec.
func (te *testEngine) run(spec ContainerSpec) *Container {
	te.t.Helper()
	ctx := context.Background()
	c, err := te.Create(ctx, spec)
	if err != nil {
		te.t.Fatalf("create %s: %v", spec.Name, err)
	}
	if err := te.Start(ctx, c.ID); err != nil {
		te.t.Fatalf("start %s: %v", spec.Name, err)
	}
	return c
}

// waitFor waits (event driven) until cond holds for container id.
func (te *testEngine) waitFor(id string, what string, cond func(*Container) bool) *Container {
	te.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := te.WaitUntil(ctx, id, func(c *Container) (bool, error) { return cond(c), nil })
	if err != nil {
		last, _ := te.Inspect(context.Background(), id)
		te.t.Fatalf("waiting for %s: %v (last state %+v)", what, err, stateOf(last))
	}
	return c
}

func stateOf(c *Container) any {
	if c == nil {
		return nil
	}
	return c.State
}

// logs returns the container's whole log as "stream: line" lines.
func (te *testEngine) logs(id string) []string {
	te.t.Helper()
	var out []string
	err := te.Logs(context.Background(), id, LogsOptions{Tail: -1}, func(e LogEntry) error {
		out = append(out, e.Stream+": "+string(e.Line))
		return nil
	})
	if err != nil {
		te.t.Fatalf("logs: %v", err)
	}
	return out
}

func readJSON(path string, v any) error { return state.ReadJSON(path, v) }

func writeJSON(path string, v any) error { return state.WriteJSON(path, v, false) }
