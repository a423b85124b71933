package volumes_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/engine/testutil"
)

// Helpers of the root tests (engine_linux_test.go, and the end-to-end
// tests of the berth binary).

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRoot makes a berth root for one test and, at the end, checks that
// nothing is left mounted under it (detaching what is, so the temporary
// directory's removal never deletes through a mount) and removes its
// volatile directory.
func newRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() {
		mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(root))
		for _, m := range mounts {
			t.Errorf("mount left behind under the berth root: %s on %s", m.Source, m.Mountpoint)
			_ = unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		}
		if p, err := state.NewPaths(root); err == nil {
			_ = os.RemoveAll(p.Run)
		}
	})
	return root
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testRegistry serves images the test builds on busybox, from an
// in-process registry on 127.0.0.1 that lives as long as the test.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// tarEntry is one file of a test layer.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	body     string
	link     string
	xattrs   map[string]string
}

// pushImage appends a layer of entries (and VOLUME entries) to busybox and
// pushes it as host/repo:1.
func pushImage(t *testing.T, host, repo string, entries []tarEntry, volumes ...string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link,
			Size: int64(len(e.body)), Format: tar.FormatPAX}
		if len(e.xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	base, err := remote.Image(name.MustParseReference(testutil.BusyboxImage))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	if len(volumes) > 0 {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg := cf.Config.DeepCopy()
		cfg.Volumes = map[string]struct{}{}
		for _, v := range volumes {
			cfg.Volumes[v] = struct{}{}
		}
		if img, err = mutate.Config(img, *cfg); err != nil {
			t.Fatal(err)
		}
	}
	ref := host + "/" + repo + ":1"
	dst, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// hostileEntries: /data is a symlink to /etc, /rel climbs out of the root.
var hostileEntries = []tarEntry{
	{name: "data", typ: tar.TypeSymlink, link: "/etc", mode: 0o777},
	{name: "rel", typ: tar.TypeSymlink, link: "../../../../../../../../etc", mode: 0o777},
}

// mountsAt counts the host's mounts at p.
func mountsAt(t *testing.T, p string) int {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(p))
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// seedEntries is image content with owners, modes, setuid, a symlink, a
// hard link and an extended attribute, for copy-up.
var seedEntries = []tarEntry{
	{name: "seed/", typ: tar.TypeDir, mode: 0o750, uid: 1234, gid: 5678},
	{name: "seed/secret", typ: tar.TypeReg, mode: 0o640, uid: 4321, gid: 8765, body: "s3cret", xattrs: map[string]string{"user.berth": "kept"}},
	{name: "seed/tool", typ: tar.TypeReg, mode: 0o4755, body: "#!/bin/sh\n"},
	{name: "seed/sub/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
	// A hard link header carries its target's metadata, as docker's tar writer makes it.
	{name: "seed/sub/hard", typ: tar.TypeLink, link: "seed/secret", mode: 0o640, uid: 4321, gid: 8765},
	{name: "seed/link", typ: tar.TypeSymlink, link: "secret", mode: 0o777},
}

// checkSeed checks a copied-up volume directory against seedEntries.
func checkSeed(t *testing.T, dir string) {
	t.Helper()
	owner := func(p string) (uint32, uint32, os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Uid, st.Gid, fi.Mode()
	}
	for _, c := range []struct {
		rel      string
		uid, gid uint32
		mode     os.FileMode
	}{
		{"", 1234, 5678, os.ModeDir | 0o750},
		{"secret", 4321, 8765, 0o640},
		{"tool", 0, 0, os.ModeSetuid | 0o755},
		{"sub", 1000, 1000, os.ModeDir | 0o700},
	} {
		uid, gid, mode := owner(filepath.Join(dir, c.rel))
		if uid != c.uid || gid != c.gid || mode != c.mode {
			t.Errorf("%s/%s: %d:%d %v, want %d:%d %v", dir, c.rel, uid, gid, mode, c.uid, c.gid, c.mode)
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "link")); err != nil || l != "secret" {
		t.Errorf("symlink: %q %v", l, err)
	}
	a, errA := os.Stat(filepath.Join(dir, "secret"))
	b, errB := os.Stat(filepath.Join(dir, "sub", "hard"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("hard link not kept: %v %v", errA, errB)
	}
	buf := make([]byte, 16)
	n, err := unix.Lgetxattr(filepath.Join(dir, "secret"), "user.berth", buf)
	if err != nil || string(buf[:n]) != "kept" {
		t.Errorf("xattr user.berth: %q %v", buf[:max(n, 0)], err)
	}
}
