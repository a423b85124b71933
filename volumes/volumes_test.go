package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/state"
)

func newManager(t *testing.T, inUse func(ctx context.Context, name string) ([]string, error)) *Manager {
	t.Helper()
	m, err := New(Options{Paths: state.Paths{Root: t.TempDir(), Run: t.TempDir()}, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCreateGetListRemove(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	labels := map[string]string{"com.docker.compose.project": "app", "com.docker.compose.volume": "data"}
	v, err := m.Create(ctx, Spec{Name: "app_data", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "app_data" || v.Driver != "local" || v.Scope != "local" || v.CreatedAt.IsZero() {
		t.Fatalf("volume = %+v", v)
	}
	if want := filepath.Join(m.dir, "app_data", "_data"); v.Mountpoint != want {
		t.Fatalf("mountpoint %q, want %q", v.Mountpoint, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	if v.Anonymous() {
		t.Fatal("named volume reported anonymous")
	}

	// Existing: returned as is, even with other labels.
	v2, err := m.Create(ctx, Spec{Name: "app_data", Labels: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if !v2.CreatedAt.Equal(v.CreatedAt) || v2.Labels["x"] != "" || v2.Labels["com.docker.compose.volume"] != "data" {
		t.Fatalf("existing volume changed: %+v", v2)
	}

	if _, err := m.Create(ctx, Spec{Name: "other_data", Labels: map[string]string{"com.docker.compose.project": "other"}}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, "app_data")
	if err != nil || got.Labels["com.docker.compose.project"] != "app" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := m.Get(ctx, "nosuch"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := m.Get(ctx, "../etc"); !errdefs.IsNotFound(err) {
		t.Fatalf("get traversal: %v", err)
	}

	all, err := m.List(ctx, nil)
	if err != nil || len(all) != 2 || all[0].Name != "app_data" || all[1].Name != "other_data" {
		t.Fatalf("list all: %v %v", volumeNames(all), err)
	}
	mine, err := m.List(ctx, map[string]string{"com.docker.compose.project": "app"})
	if err != nil || len(mine) != 1 || mine[0].Name != "app_data" {
		t.Fatalf("list project: %v %v", volumeNames(mine), err)
	}

	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, "app_data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "app_data")); !os.IsNotExist(err) {
		t.Fatalf("volume dir still there: %v", err)
	}
	if _, err := m.Get(ctx, "app_data"); !errdefs.IsNotFound(err) {
		t.Fatalf("get removed: %v", err)
	}
	// Gone is success.
	if err := m.Remove(ctx, "app_data", false); err != nil {
		t.Fatalf("remove twice: %v", err)
	}
	if entries, _ := os.ReadDir(m.trashDir()); len(entries) != 0 {
		t.Fatalf("trash not empty: %v", entries)
	}
}

func volumeNames(vs []*Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateAnonymous(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	a, err := m.Create(ctx, Spec{Labels: map[string]string{"com.docker.compose.project": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(ctx, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*Volume{a, b} {
		if len(v.Name) != 64 || strings.Trim(v.Name, "0123456789abcdef") != "" {
			t.Fatalf("anonymous name %q is not 64 hex", v.Name)
		}
		if !v.Anonymous() {
			t.Fatalf("%s: not labelled anonymous: %v", v.Name, v.Labels)
		}
	}
	if a.Name == b.Name {
		t.Fatal("two anonymous volumes got one name")
	}
	if a.Labels["com.docker.compose.project"] != "app" {
		t.Fatalf("labels lost: %v", a.Labels)
	}
}

func TestCreateInvalid(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	tests := []struct {
		name string
		spec Spec
		kind func(error) bool
		msg  string
	}{
		{"path name", Spec{Name: "../x"}, errdefs.IsInvalidArgument, "invalid"},
		{"slash", Spec{Name: "a/b"}, errdefs.IsInvalidArgument, "invalid"},
		{"one char", Spec{Name: "a"}, errdefs.IsInvalidArgument, "invalid"},
		{"driver", Spec{Name: "vv", Driver: "nfs-plugin"}, errdefs.IsNotImplemented, `driver "nfs-plugin"`},
		{"unknown opt", Spec{Name: "vv", DriverOpts: map[string]string{"foo": "1"}}, errdefs.IsInvalidArgument, `invalid option key: "foo"`},
		{"type without device", Spec{Name: "vv", DriverOpts: map[string]string{"type": "tmpfs"}}, errdefs.IsInvalidArgument, `missing required option: "device"`},
		{"o without device", Spec{Name: "vv", DriverOpts: map[string]string{"o": "bind"}}, errdefs.IsInvalidArgument, `missing required option: "device"`},
		{"device without type", Spec{Name: "vv", DriverOpts: map[string]string{"device": "/x"}}, errdefs.IsInvalidArgument, `missing required option: "type"`},
		{"relative bind", Spec{Name: "vv", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "rel"}}, errdefs.IsInvalidArgument, "absolute"},
		{"unknown fs", Spec{Name: "vv", DriverOpts: map[string]string{"type": "nosuchfs", "device": "/dev/x"}}, errdefs.IsNotImplemented, `"nosuchfs"`},
		{"size", Spec{Name: "vv", DriverOpts: map[string]string{"size": "1g"}}, errdefs.IsNotImplemented, "size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Create(ctx, tc.spec)
			if err == nil || !tc.kind(err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want kind and %q", err, tc.msg)
			}
		})
	}
	if vs, _ := m.List(ctx, nil); len(vs) != 0 {
		t.Fatalf("invalid creates left volumes: %v", volumeNames(vs))
	}
}

func TestCreateConcurrent(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	// Two managers on one root stand for two processes (each locks its own fd).
	m2, err := New(Options{Paths: state.Paths{Root: filepath.Dir(m.dir)}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	vols := make([]*Volume, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		mm := m
		if i%2 == 1 {
			mm = m2
		}
		wg.Go(func() {
			vols[i], errs[i] = mm.Create(ctx, Spec{Name: "shared", Labels: map[string]string{"i": string(rune('a' + i))}})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		if vols[i].Labels["i"] != vols[0].Labels["i"] || !vols[i].CreatedAt.Equal(vols[0].CreatedAt) {
			t.Fatalf("creators got different volumes: %v vs %v", vols[i].Labels, vols[0].Labels)
		}
	}
	entries, _ := os.ReadDir(m.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temporary left behind: %s", e.Name())
		}
	}
}

func TestRemoveInUse(t *testing.T) {
	ctx := context.Background()
	users := map[string][]string{"db_data": {"app-db-1"}}
	m := newManager(t, func(ctx context.Context, name string) ([]string, error) { return users[name], nil })
	for _, n := range []string{"db_data", "free"} {
		if _, err := m.Create(ctx, Spec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	err := m.Remove(ctx, "db_data", false)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "app-db-1") || !strings.Contains(err.Error(), `"db_data"`) {
		t.Fatalf("remove in use: %v", err)
	}
	if _, err := m.Get(ctx, "db_data"); err != nil {
		t.Fatalf("refused remove lost the volume: %v", err)
	}
	if err := m.Remove(ctx, "db_data", true); err != nil {
		t.Fatalf("forced remove: %v", err)
	}
	if _, err := m.Get(ctx, "db_data"); !errdefs.IsNotFound(err) {
		t.Fatalf("forced remove kept it: %v", err)
	}

	failing := newManager(t, func(ctx context.Context, name string) ([]string, error) { return nil, errors.New("engine down") })
	if _, err := failing.Create(ctx, Spec{Name: "vv"}); err != nil {
		t.Fatal(err)
	}
	if err := failing.Remove(ctx, "vv", false); err == nil || !strings.Contains(err.Error(), "engine down") {
		t.Fatalf("remove with a failing InUse must fail: %v", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	used := map[string]bool{}
	m := newManager(t, func(ctx context.Context, name string) ([]string, error) {
		if used[name] {
			return []string{"c1"}, nil
		}
		return nil, nil
	})
	anonFree, _ := m.Create(ctx, Spec{})
	anonUsed, _ := m.Create(ctx, Spec{})
	used[anonUsed.Name] = true
	if _, err := m.Create(ctx, Spec{Name: "named_free", Labels: map[string]string{"keep": "no"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, Spec{Name: "named_used"}); err != nil {
		t.Fatal(err)
	}
	used["named_used"] = true
	if err := os.WriteFile(filepath.Join(anonFree.Mountpoint, "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := m.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Removed, []string{anonFree.Name}) || rep.SpaceReclaimed != 1000 {
		t.Fatalf("prune anonymous: %+v", rep)
	}
	rep, err = m.Prune(ctx, PruneOptions{All: true, Filter: func(v *Volume) bool { return v.Labels["keep"] != "yes" }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Removed, []string{"named_free"}) {
		t.Fatalf("prune all: %+v", rep)
	}
	left, _ := m.List(ctx, nil)
	if len(left) != 2 {
		t.Fatalf("used volumes must stay: %v", volumeNames(left))
	}
}

func TestMount(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	plain, _ := m.Create(ctx, Spec{Name: "plain"})
	if err := os.MkdirAll(filepath.Join(plain.Mountpoint, "pg", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink a container wrote into the volume, pointing at the host's /etc.
	if err := os.Symlink("/etc", filepath.Join(plain.Mountpoint, "evil")); err != nil {
		t.Fatal(err)
	}
	bind, err := m.Create(ctx, Spec{Name: "bound", DriverOpts: map[string]string{"type": "none", "o": "bind,ro", "device": host}})
	if err != nil {
		t.Fatal(err)
	}
	if bind.Mountpoint != host {
		t.Fatalf("bind mountpoint %q, want the device %q", bind.Mountpoint, host)
	}
	tmp, err := m.Create(ctx, Spec{Name: "scratch", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=10m,uid=1000"}})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := m.Create(ctx, Spec{Name: "gone", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": filepath.Join(host, "nosuch")}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		v       *Volume
		subpath string
		want    mount.Mount
		err     func(error) bool
	}{
		{"plain", plain, "", mount.Mount{Type: "bind", Source: plain.Mountpoint}, nil},
		{"plain subpath", plain, "pg/data", mount.Mount{Type: "bind", Source: filepath.Join(plain.Mountpoint, "pg/data")}, nil},
		{"missing subpath", plain, "nosuch", mount.Mount{}, errdefs.IsNotFound},
		{"dotdot subpath", plain, "../../etc", mount.Mount{}, errdefs.IsInvalidArgument},
		{"absolute subpath", plain, "/etc", mount.Mount{}, errdefs.IsInvalidArgument},
		// The symlink resolves inside the volume (to <volume>/etc, absent), never to the host's /etc.
		{"symlink subpath", plain, "evil", mount.Mount{}, errdefs.IsNotFound},
		{"bind", bind, "", mount.Mount{Type: "bind", Source: host, Options: []string{"ro"}}, nil},
		{"bind subpath", bind, "sub", mount.Mount{Type: "bind", Source: filepath.Join(host, "sub"), Options: []string{"ro"}}, nil},
		{"bind missing device", gone, "", mount.Mount{}, errdefs.IsNotFound},
		{"tmpfs", tmp, "", mount.Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=10m", "uid=1000"}}, nil},
		{"tmpfs subpath", tmp, "x", mount.Mount{}, errdefs.IsNotImplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Mount(tc.subpath)
			if tc.err != nil {
				if err == nil || !tc.err(err) || !strings.Contains(err.Error(), tc.v.Name) {
					t.Fatalf("err = %v (mount %+v)", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.want.Type || got.Source != tc.want.Source || !slices.Equal(got.Options, tc.want.Options) {
				t.Fatalf("mount = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRemoveKeepsBindDevice(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, nil)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, Spec{Name: "bound", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": host}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, "bound", false); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "precious")); err != nil || string(b) != "data" {
		t.Fatalf("removing a bind volume touched its device: %q %v", b, err)
	}
}

func TestSweepTrash(t *testing.T) {
	root := t.TempDir()
	leftover := filepath.Join(root, "volumes", ".trash", "old-123", "_data")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Paths: state.Paths{Root: root}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "volumes", ".trash", "old-123")); !os.IsNotExist(err) {
		t.Fatalf("trash not swept: %v", err)
	}
}

// BenchmarkCreate measures creating a new volume (temporary directory,
// durable metadata, rename into place).
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Paths: state.Paths{Root: b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := m.Create(ctx, Spec{Name: "v" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateExisting measures Create of a volume that exists (what
// every `up` does for each named volume).
func BenchmarkCreateExisting(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Paths: state.Paths{Root: b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Create(ctx, Spec{Name: "app_data"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.Create(ctx, Spec{Name: "app_data"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList100 measures listing a root of 100 volumes by label.
func BenchmarkList100(b *testing.B) {
	ctx := context.Background()
	m, err := New(Options{Paths: state.Paths{Root: b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if _, err := m.Create(ctx, Spec{Name: "v" + strconv.Itoa(i), Labels: map[string]string{"p": strconv.Itoa(i % 10)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if vs, err := m.List(ctx, map[string]string{"p": "3"}); err != nil || len(vs) != 10 {
			b.Fatal(len(vs), err)
		}
	}
}
