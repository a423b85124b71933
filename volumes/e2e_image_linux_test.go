package volumes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/engine/testutil"
)

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
    volumes: ["vol:/data"]
  bind:
    image: %[1]s
    command: [sleep, "3600"]
    init: true
    volumes: ["./hostdir:/data"]
volumes:
  vol: {}
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
	if got := readFile(t, filepath.Join(s.volumeData(s.project+"_vol"), marker)); got != "x\n" {
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
