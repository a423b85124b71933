package volumes_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/volumes"
)

// These root tests run real containers on the engine with mounts of real
// volumes, the way the scheduler makes them (resolveMounts' output).

type engineEnv struct {
	t       *testing.T
	e       *engine.Engine
	store   *image.Store
	vols    *volumes.Manager
	project string
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	root := newRoot(t)
	paths, err := state.NewPaths(root)
	if err != nil {
		t.Fatal(err)
	}
	store, err := image.New(image.Options{Root: paths.Images(), Snapshots: paths.Snapshots()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Paths: paths, Images: store, Snapshotter: store.Snapshotter()})
	if err != nil {
		t.Fatal(err)
	}
	env := &engineEnv{t: t, e: e, store: store, project: "vt" + randHex(4)}
	env.vols, err = volumes.New(volumes.Options{Paths: paths, InUse: env.inUse})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.cleanup)
	return env
}

// inUse is what cmd/berth wires as volumes.Options.InUse.
func (env *engineEnv) inUse(ctx context.Context, name string) ([]string, error) {
	cs, err := env.e.List(ctx, engine.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		if slices.ContainsFunc(c.Spec.Mounts, func(m engine.Mount) bool { return m.Volume == name }) {
			out = append(out, c.Name)
		}
	}
	return out, nil
}

func (env *engineEnv) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := env.e.List(ctx, engine.ListOptions{All: true, Labels: map[string]string{"berth.test": env.project}})
	if err != nil {
		env.t.Error(err)
		return
	}
	for _, c := range cs {
		if err := env.e.Remove(ctx, c.ID, engine.RemoveOptions{Force: true}); err != nil {
			env.t.Errorf("remove %s: %v", c.Name, err)
		}
	}
}

func (env *engineEnv) pull(ref string) {
	env.t.Helper()
	if _, err := env.store.Pull(context.Background(), ref, image.PullOptions{}); err != nil {
		env.t.Fatal(err)
	}
}

// run creates and starts a container of ref running script with mounts,
// waits for it and returns its exit code and output. The container is
// kept (removed at the end of the test or by the caller).
func (env *engineEnv) run(name, ref, script string, mounts ...engine.Mount) (id string, code int, out string, err error) {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := env.e.Create(ctx, engine.ContainerSpec{
		Name:       env.project + "-" + name,
		Labels:     map[string]string{"berth.test": env.project},
		Image:      ref,
		Entrypoint: []string{"sh", "-c"},
		Cmd:        []string{script},
		Mounts:     mounts,
		Network:    engine.NetworkSpec{Mode: "none"},
	})
	if err != nil {
		return "", 0, "", err
	}
	if err := env.e.Start(ctx, c.ID); err != nil {
		return c.ID, 0, "", err
	}
	if code, err = env.e.Wait(ctx, c.ID); err != nil {
		return c.ID, 0, "", err
	}
	var buf bytes.Buffer
	err = env.e.Logs(ctx, c.ID, engine.LogsOptions{Tail: -1}, func(l engine.LogEntry) error {
		buf.Write(l.Line)
		buf.WriteByte('\n')
		return nil
	})
	return c.ID, code, buf.String(), err
}

// mustRun is run that fails the test unless the script exits 0.
func (env *engineEnv) mustRun(name, ref, script string, mounts ...engine.Mount) (string, string) {
	env.t.Helper()
	id, code, out, err := env.run(name, ref, script, mounts...)
	if err != nil || code != 0 {
		env.t.Fatalf("container %s: exit %d, %v\n%s", name, code, err, out)
	}
	return id, out
}

func (env *engineEnv) remove(id string) {
	env.t.Helper()
	if err := env.e.Remove(context.Background(), id, engine.RemoveOptions{Force: true}); err != nil {
		env.t.Fatal(err)
	}
}

func (env *engineEnv) volume(name string) *volumes.Volume {
	env.t.Helper()
	v, err := env.vols.Create(context.Background(), volumes.Spec{Name: name})
	if err != nil {
		env.t.Fatal(err)
	}
	return v
}

// volumeMount is the mount resolveMounts makes of a plain named volume.
func volumeMount(t *testing.T, v *volumes.Volume, target string, copyUp bool) engine.Mount {
	t.Helper()
	m, err := v.Mount("")
	if err != nil {
		t.Fatal(err)
	}
	return engine.Mount{Type: m.Type, Source: m.Source, Target: target, Volume: v.Name, CopyUp: copyUp}
}

// TestLinuxVolumeDataOutlivesContainers: what a container writes in a
// volume is there for the next container after the first is removed; two
// projects' volumes of the same key stay apart; a volume in use cannot be
// removed unless forced, and its data goes with it when it is.
func TestLinuxVolumeDataOutlivesContainers(t *testing.T) {
	env := newEngineEnv(t)
	env.pull(testutil.BusyboxImage)
	a, b := env.volume("pa_data"), env.volume("pb_data")
	id1, _ := env.mustRun("a1", testutil.BusyboxImage, "echo A > /data/who", volumeMount(t, a, "/data", true))
	id2, _ := env.mustRun("b1", testutil.BusyboxImage, "echo B > /data/who", volumeMount(t, b, "/data", true))
	env.remove(id1)
	env.remove(id2)
	id3, out := env.mustRun("a2", testutil.BusyboxImage, "cat /data/who", volumeMount(t, a, "/data", true))
	if out != "A\n" {
		t.Fatalf("a new container of project a reads %q", out)
	}
	if _, out := env.mustRun("b2", testutil.BusyboxImage, "cat /data/who", volumeMount(t, b, "/data", true)); out != "B\n" {
		t.Fatalf("a new container of project b reads %q", out)
	}

	ctx := context.Background()
	err := env.vols.Remove(ctx, "pa_data", false)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), env.project+"-a2") {
		t.Fatalf("remove of a volume in use: %v", err)
	}
	rep, err := env.vols.Prune(ctx, volumes.PruneOptions{All: true})
	if err != nil || len(rep.Removed) != 0 {
		t.Fatalf("prune removed volumes in use: %+v %v", rep, err)
	}
	env.remove(id3)
	if err := env.vols.Remove(ctx, "pa_data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Mountpoint); !os.IsNotExist(err) {
		t.Fatalf("removed volume's data is still there: %v", err)
	}
}

// TestLinuxSymlinkTargetStaysInside: an image whose mount target /data is a
// symlink to /etc cannot make a volume or a bind land on the host's /etc;
// a target through a symlink that climbs out with ".." is refused.
func TestLinuxSymlinkTargetStaysInside(t *testing.T) {
	env := newEngineEnv(t)
	ref := pushImage(t, testRegistry(t), "hostile", hostileEntries)
	env.pull(ref)
	marker := "berth-pwned-" + randHex(6)
	t.Cleanup(func() { _ = os.Remove("/etc/" + marker) }) // only if the test failed badly
	etcBefore := mountsAt(t, "/etc")

	v := env.volume("evil_v")
	env.mustRun("vol", ref, "echo x > /data/"+marker, volumeMount(t, v, "/data", true))
	bindSrc := t.TempDir()
	env.mustRun("bind", ref, "echo y > /data/"+marker, engine.Mount{Type: "bind", Source: bindSrc, Target: "/data"})
	if _, err := os.Lstat("/etc/" + marker); !os.IsNotExist(err) {
		t.Fatalf("a write through the mount reached the host's /etc (%v)", err)
	}
	if mountsAt(t, "/etc") != etcBefore {
		t.Fatal("something was mounted on the host's /etc")
	}
	if got := readFile(t, filepath.Join(v.Mountpoint, marker)); got != "x\n" {
		t.Fatalf("the volume did not get the write: %q", got)
	}
	if got := readFile(t, filepath.Join(bindSrc, marker)); got != "y\n" {
		t.Fatalf("the bind source did not get the write: %q", got)
	}
	// Copy-up read the container's own /etc (the symlink resolved
	// inside), never the host's: the volume holds exactly the image's /etc
	// and the marker.
	_, imageEtc := env.mustRun("etc", ref, "ls -A /etc")
	var inVolume []string
	entries, err := os.ReadDir(v.Mountpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != marker {
			inVolume = append(inVolume, e.Name())
		}
	}
	if want := strings.Fields(imageEtc); !slices.Equal(inVolume, want) {
		t.Fatalf("copy-up into the volume: %v, want the image's /etc %v", inVolume, want)
	}

	_, _, out, err := env.run("climb", ref, "echo z > /rel/"+marker, engine.Mount{Type: "bind", Source: bindSrc, Target: "/rel"})
	if err == nil {
		t.Fatalf("a mount target through a symlink climbing out of the root was accepted (output %q)", out)
	}
	if !strings.Contains(err.Error(), "leaves the container's root filesystem") {
		t.Fatalf("unclear error for the climbing symlink: %v", err)
	}
	if _, err := os.Lstat("/etc/" + marker); !os.IsNotExist(err) {
		t.Fatalf("the climbing symlink reached the host's /etc (%v)", err)
	}
}

// TestLinuxCopyUpKeepsOwners: the first mount of an empty volume gets the
// image's content with owners, modes, setuid, links and xattrs; nocopy
// gets nothing; a volume with content is never overwritten.
func TestLinuxCopyUpKeepsOwners(t *testing.T) {
	env := newEngineEnv(t)
	ref := pushImage(t, testRegistry(t), "seeded", seedEntries)
	env.pull(ref)
	seed, empty := env.volume("cu_seed"), env.volume("cu_empty")
	env.mustRun("copy", ref, "true", volumeMount(t, seed, "/seed", true))
	checkSeed(t, seed.Mountpoint)
	env.mustRun("nocopy", ref, "true", volumeMount(t, empty, "/seed", false))
	if entries, err := os.ReadDir(empty.Mountpoint); err != nil || len(entries) != 0 {
		t.Fatalf("nocopy volume got content: %v %v", entries, err)
	}
	env.mustRun("change", ref, "echo changed > /seed/secret && rm /seed/tool", volumeMount(t, seed, "/seed", true))
	if _, out := env.mustRun("again", ref, "cat /seed/secret; ls /seed", volumeMount(t, seed, "/seed", true)); out != "changed\nlink\nsecret\nsub\n" {
		t.Fatalf("a later container sees %q", out)
	}
}

// TestLinuxBindVolume: a volume made with driver_opts type=none, o=bind,
// device=<host dir> mounts that directory; removing the volume leaves it.
func TestLinuxBindVolume(t *testing.T) {
	env := newEngineEnv(t)
	env.pull(testutil.BusyboxImage)
	dev := t.TempDir()
	ctx := context.Background()
	v, err := env.vols.Create(ctx, volumes.Spec{Name: "bv_host", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": dev}})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := env.mustRun("w", testutil.BusyboxImage, "echo hi > /v/f", volumeMount(t, v, "/v", false))
	if got := readFile(t, filepath.Join(dev, "f")); got != "hi\n" {
		t.Fatalf("bind volume's device got %q", got)
	}
	env.remove(id)
	if err := env.vols.Remove(ctx, "bv_host", false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dev, "f")); got != "hi\n" {
		t.Fatalf("removing the volume touched its device: %q", got)
	}
}
