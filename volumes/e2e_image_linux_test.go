//go:build berth_wip

package volumes_test

import (
	"archive/tar"
	"bytes"
	"fmt"
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

	"github.com/berthdev/berth/engine/testutil"
)

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

// TestE2ESymlinkTargetStaysInside: an image whose mount target /data is a
// symlink to /etc cannot make a volume or a bind land on the host's /etc:
// the target resolves inside the container's root filesystem. A symlink
// that climbs out with ".." is refused with a clear error.
func TestE2ESymlinkTargetStaysInside(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	host := testRegistry(t)
	ref := pushImage(t, host, "hostile", hostileEntries)
	marker := "berth-pwned-" + randHex(6)
	t.Cleanup(func() { _ = os.Remove("/etc/" + marker) }) // only if the test failed badly
	etcBefore := mountsAt(t, "/etc")

	s := newStack(t, "", "evil"+randHex(3), fmt.Sprintf(`
services:
  vol:
    image: %[1]s
    command: [sleep, "3600"]
    init: true
    volumes: ["v:/data"]
  bind:
    image: %[1]s
    command: [sleep, "3600"]
    init: true
    volumes: ["./hostdir:/data"]
volumes:
  v: {}
`, ref))
	s.must("up", "-d")
	s.sh("vol", "echo x > /data/"+marker)
	s.sh("bind", "echo y > /data/"+marker)
	if _, err := os.Lstat("/etc/" + marker); !os.IsNotExist(err) {
		t.Fatalf("a write through the mount reached the host's /etc (%v)", err)
	}
	if mountsAt(t, "/etc") != etcBefore {
		t.Fatal("something was mounted on the host's /etc")
	}
	if got := readFile(t, filepath.Join(s.volumeData(s.project+"_v"), marker)); got != "x\n" {
		t.Fatalf("the volume did not get the write: %q", got)
	}
	if got := readFile(t, filepath.Join(s.dir, "hostdir", marker)); got != "y\n" {
		t.Fatalf("the bind source did not get the write: %q", got)
	}
	// Inside, /etc is the mount: the container's own /etc, never the host's.
	if got := s.sh("vol", "cat /etc/"+marker); got != "x\n" {
		t.Fatalf("inside the container /etc/%s = %q", marker, got)
	}

	climb := newStack(t, "", "climb"+randHex(3), fmt.Sprintf(`
services:
  rel:
    image: %s
    command: [sleep, "3600"]
    init: true
    volumes: ["./hostdir:/rel"]
`, ref))
	_, err := climb.run("up", "-d")
	if err == nil {
		t.Fatal("a mount target through a symlink climbing out of the root was accepted")
	}
	if !strings.Contains(err.Error(), "leaves the container's root filesystem") {
		t.Fatalf("unclear error for the climbing symlink:\n%v", err)
	}
	if mountsAt(t, "/etc") != etcBefore {
		t.Fatal("something was mounted on the host's /etc")
	}
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
	{name: "seed/sub/hard", typ: tar.TypeLink, link: "seed/secret"},
	{name: "seed/link", typ: tar.TypeSymlink, link: "secret", mode: 0o777},
}

// TestE2ECopyUp: the first mount of an empty named volume, and an image
// VOLUME's anonymous volume, get the image's content with owners, modes,
// setuid, symlinks, hard links and xattrs; nocopy gets nothing; a volume
// with content is never overwritten.
func TestE2ECopyUp(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	host := testRegistry(t)
	ref := pushImage(t, host, "seeded", seedEntries)
	refVol := pushImage(t, host, "seeded-volume", seedEntries, "/seed")
	s := newStack(t, "", "cu"+randHex(3), fmt.Sprintf(`
services:
  named:
    image: %[1]s
    command: [sleep, "3600"]
    init: true
    volumes: ["seed:/seed"]
  nocopy:
    image: %[1]s
    command: [sleep, "3600"]
    init: true
    volumes: ["empty:/seed:nocopy"]
  image:
    image: %[2]s
    command: [sleep, "3600"]
    init: true
volumes:
  seed: {}
  empty: {}
`, ref, refVol))
	s.must("up", "-d")
	checkSeed(t, s.volumeData(s.project+"_seed"))
	anon := anonymousVolumes(t, s)
	if len(anon) != 1 {
		t.Fatalf("image VOLUME: anonymous volumes %v", anon)
	}
	checkSeed(t, s.volumeData(anon[0]))
	if entries, err := os.ReadDir(s.volumeData(s.project + "_empty")); err != nil || len(entries) != 0 {
		t.Fatalf("nocopy volume got content: %v %v", entries, err)
	}

	// Content written later is never overwritten by a new container.
	s.sh("named", "echo changed > /seed/secret && rm /seed/tool")
	s.must("up", "-d", "--force-recreate", "-t", "1")
	if got := s.sh("named", "cat /seed/secret; ls /seed"); got != "changed\nlink\nsecret\nsub\n" {
		t.Fatalf("recreated container sees %q", got)
	}
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
