package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/testutil"
)

// inMountNS runs fn on a locked thread in a private mount namespace of its
// own (the thread is thrown away afterwards), so test mounts never reach
// the host's namespace.
func inMountNS(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// conformance layers: the lower one has files the upper one deletes.
func conformanceLayers(t *testing.T) [][]byte {
	dev := entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
	setuid := entry{name: "bin/su", typ: tar.TypeReg, body: "su", mode: 0o4755, uid: 1000, gid: 1000}
	owned := entry{name: "home/u/f", typ: tar.TypeReg, body: "f", mode: 0o600, uid: 1000, gid: 1001}
	xattr := entry{name: "data/keep", typ: tar.TypeReg, body: "keep", mode: 0o644, xattrs: map[string]string{"user.berth": "v"}}
	tmp := entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777}
	l1 := layerTar(t, dir("etc/"), file("etc/a", "a"), file("etc/b", "b"), dir("data/"), file("data/gone", "x"),
		xattr, hardlink("data/h1", "data/keep"), symlink("lnk", "/etc/a"), tmp, dir("bin/"), setuid,
		dir("dev/"), dev, dir("home/"), dir("home/u/"), owned, dir("gonedir/"), file("gonedir/f", "f"))
	l2 := layerTar(t, whiteout("data/.wh.gone"), whiteout("etc/.wh..wh..opq"), file("etc/c", "c"),
		file("tmp/x", "x"), whiteout(".wh.gonedir"))
	return [][]byte{l1, l2}
}

// checkMerged asserts the merged view of the conformance layers.
func checkMerged(root string) error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, errorf(format, a...)) }
	for _, gone := range []string{"data/gone", "etc/a", "etc/b", "gonedir"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !errors.Is(err, os.ErrNotExist) {
			fail("%s should be deleted, lstat: %v", gone, err)
		}
	}
	for _, p := range []string{"etc/c", "tmp/x", "data/keep"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			fail("%s missing: %v", p, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "tmp"), &st); err != nil || st.Mode&0o7777 != 0o1777 {
		fail("tmp mode %o (want 1777 inherited from the parent layer): %v", st.Mode&0o7777, err)
	}
	if err := unix.Lstat(filepath.Join(root, "bin/su"), &st); err != nil || st.Mode&0o7777 != 0o4755 || st.Uid != 1000 {
		fail("bin/su mode %o uid %d: %v", st.Mode&0o7777, st.Uid, err)
	}
	if err := unix.Lstat(filepath.Join(root, "home/u/f"), &st); err != nil || st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o777 != 0o600 {
		fail("home/u/f %d:%d %o: %v", st.Uid, st.Gid, st.Mode&0o777, err)
	}
	if st.Mtim.Sec != testTime.Unix() {
		fail("home/u/f mtime %d, want %d", st.Mtim.Sec, testTime.Unix())
	}
	if err := unix.Lstat(filepath.Join(root, "dev/null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		fail("dev/null is not char 1:3: %v", err)
	}
	var keep, h1 unix.Stat_t
	_ = unix.Lstat(filepath.Join(root, "data/keep"), &keep)
	_ = unix.Lstat(filepath.Join(root, "data/h1"), &h1)
	if keep.Ino != h1.Ino || keep.Nlink != 2 {
		fail("data/h1 is not a hard link of data/keep (ino %d/%d nlink %d)", keep.Ino, h1.Ino, keep.Nlink)
	}
	if dest, err := os.Readlink(filepath.Join(root, "lnk")); err != nil || dest != "/etc/a" {
		fail("lnk -> %q: %v", dest, err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(root, "data/keep"), "user.berth", buf); err != nil || string(buf[:n]) != "v" {
		fail("data/keep xattr user.berth = %q: %v", buf[:n], err)
	}
	return errors.Join(errs...)
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// TestConformance unpacks the same layers in both modes and checks the
// container's merged view through the real mounts Prepare returns.
func TestConformance(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, mode := range []string{"overlay", "copy", "copy-of-overlay-format"} {
		t.Run(mode, func(t *testing.T) {
			base := t.TempDir()
			s, err := New(Options{Root: filepath.Join(base, "snapshots"), ForceCopy: mode == "copy"})
			if err != nil {
				t.Fatal(err)
			}
			chain := applyChain(t, s, "test/conformance", conformanceLayers(t)...)
			if mode == "copy-of-overlay-format" {
				s.probeOnce.Do(func() {}) // overlay format on disk, copy to prepare
			}
			ctr := filepath.Join(base, "containers", "c1")
			mounts, err := s.Prepare(context.Background(), ctr, chain)
			if err != nil {
				t.Fatal(err)
			}
			wantType := "overlay"
			if mode != "overlay" {
				wantType = "bind"
			}
			if len(mounts) != 1 || mounts[0].Type != wantType {
				t.Fatalf("mounts = %+v, want one %s", mounts, wantType)
			}
			target := filepath.Join(base, "root")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			inMountNS(t, func() error {
				if err := mounts[0].Mount(target); err != nil {
					return err
				}
				if err := checkMerged(target); err != nil {
					return err
				}
				// The container writes into its own layer only.
				if err := os.WriteFile(filepath.Join(target, "etc/c"), []byte("changed"), 0o644); err != nil {
					return err
				}
				return mount.Unmount(target)
			})
			p, _ := s.Path(chain[1])
			if b, _ := os.ReadFile(filepath.Join(p, "etc/c")); string(b) != "c" {
				t.Fatalf("a container write reached the snapshot: %q", b)
			}
			if err := s.Cleanup(context.Background(), ctr); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"upper", "work", "rootfs"} {
				if _, err := os.Stat(filepath.Join(ctr, d)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Cleanup left %s", d)
				}
			}
		})
	}
}

// TestHostileLayers: entries that would write outside the snapshot are
// refused with an error naming the image and the entry, and nothing is left.
func TestHostileLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	parentLayer := layerTar(t, symlink("up", "/tmp"), dir("ok/"))
	tests := []struct {
		name   string
		layer  []byte
		parent bool
		entry  string
	}{
		{"dotdot", layerTar(t, file("../escape", "x")), false, "../escape"},
		{"dotdot inside", layerTar(t, dir("a/"), file("a/../../escape", "x")), false, "../escape"},
		{"symlink absolute", layerTar(t, symlink("evil", "/"), file("evil/etc/passwd", "x")), false, "evil/etc/passwd"},
		{"symlink relative", layerTar(t, symlink("evil", "../../.."), file("evil/x", "x")), false, "evil/x"},
		{"symlink in parent", layerTar(t, file("up/x", "x")), true, "up/x"},
		{"hardlink outside", layerTar(t, hardlink("h", "../../etc/passwd")), false, "h"},
		{"hardlink through symlink", layerTar(t, symlink("s", "/etc"), hardlink("h", "s/passwd")), false, "h"},
		{"whiteout of dotdot", layerTar(t, dir("a/"), whiteout("a/.wh..")), false, "a/.wh.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sandbox := t.TempDir()
			s, err := New(Options{Root: filepath.Join(sandbox, "snapshots")})
			if err != nil {
				t.Fatal(err)
			}
			parent := ""
			if tc.parent {
				parent = applyChain(t, s, "test/parent", parentLayer)[0]
			}
			diff := digestBytes(tc.layer)
			id := ChainID(parent, diff)
			_, err = s.Apply(context.Background(), bytes.NewReader(tc.layer),
				ApplyOptions{ChainID: id, Parent: parent, DiffID: diff, Image: "evil/image:1", Layer: diff})
			var ee *EntryError
			if !errors.As(err, &ee) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want an EntryError", err)
			}
			if !strings.Contains(err.Error(), "evil/image:1") || !strings.Contains(err.Error(), tc.entry) {
				t.Fatalf("error %q does not name the image and the entry %q", err, tc.entry)
			}
			if s.Has(id) {
				t.Fatal("the refused layer is visible")
			}
			tmps, _ := os.ReadDir(filepath.Join(sandbox, "snapshots", "tmp"))
			if len(tmps) != 0 {
				t.Fatalf("build directories left: %v", tmps)
			}
			top, _ := os.ReadDir(sandbox)
			if len(top) != 1 {
				t.Fatalf("written outside the snapshots root: %v", top)
			}
			if _, err := os.Lstat("/tmp/x"); err == nil && tc.parent {
				t.Fatal("/tmp/x was written")
			}
		})
	}
}

// TestApplyDigestAndOnce: a layer whose content does not match its diffID
// is refused and leaves nothing; concurrent applies of one layer unpack it
// once and all return it.
func TestApplyDigestAndOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	s, err := New(Options{Root: filepath.Join(t.TempDir(), "snapshots")})
	if err != nil {
		t.Fatal(err)
	}
	layer := layerTar(t, file("a", "a"))
	wrong := digestBytes([]byte("other"))
	_, err = s.Apply(context.Background(), bytes.NewReader(layer), ApplyOptions{ChainID: wrong, DiffID: wrong, Image: "x:1"})
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "x:1") {
		t.Fatalf("err = %v, want a data loss error naming the image", err)
	}
	if s.Has(wrong) {
		t.Fatal("corrupt layer visible")
	}
	diff := digestBytes(layer)
	// A build directory a killed unpack of this layer left behind.
	stale := filepath.Join(s.root, "tmp", strings.TrimPrefix(diff, "sha256:")+"-killed")
	if err := os.MkdirAll(filepath.Join(stale, "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]int, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := s.Apply(context.Background(), bytes.NewReader(layer), ApplyOptions{ChainID: diff, DiffID: diff})
			ids[i], errs[i] = info.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("apply %d: id %d err %v (first id %d)", i, ids[i], errs[i], ids[0])
		}
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale build directory kept: %v", err)
	}
	list, err := s.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one snapshot", list, err)
	}
	if err := s.Remove(context.Background(), diff); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), diff); err != nil {
		t.Fatalf("removing a gone snapshot: %v", err)
	}
	if s.Has(diff) {
		t.Fatal("removed snapshot still visible")
	}
}
