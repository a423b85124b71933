package volumes_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// up --renew-anon-volumes, and the external volume check that runs before
// up creates anything.

// TestE2ERenewAnonVolumes: up --renew-anon-volumes gives the recreated
// container new, empty anonymous volumes and removes the old ones; named
// volumes keep their data.
func TestE2ERenewAnonVolumes(t *testing.T) {
	s := newStack(t, "", "renew"+randHex(3), busyboxApp)
	s.must("up", "-d")
	s.sh("app", "echo named > /data/f && echo anon > /anon/f")
	before := anonymousVolumes(t, s)
	s.must("up", "-d", "--force-recreate", "--renew-anon-volumes", "-t", "1")
	if got := s.sh("app", "cat /data/f; ls /anon"); got != "named\n" {
		t.Fatalf("after --renew-anon-volumes: %q (the anonymous volume must be new and empty)", got)
	}
	if after := anonymousVolumes(t, s); len(before) != 1 || len(after) != 1 || after[0] == before[0] {
		t.Fatalf("anonymous volumes: before %v, after %v (one, renewed, the old one removed)", before, after)
	}
}

// TestE2EExternalVolumeMissing: up fails before creating anything, naming
// the volume and how to create it; with the volume created it runs, and
// down -v leaves it.
func TestE2EExternalVolumeMissing(t *testing.T) {
	ext := "ext" + randHex(4)
	s := newStack(t, "", "ext"+randHex(3), fmt.Sprintf(`
services:
  app:
    image: 127.0.0.1:5000/busybox:1
    command: [sleep, "3600"]
    init: true
    volumes: ["shared:/shared", "own:/own"]
volumes:
  own: {}
  shared:
    external: true
    name: %s
`, ext))
	_, err := s.run("up", "-d")
	if err == nil {
		t.Fatal("up with a missing external volume succeeded")
	}
	for _, want := range []string{fmt.Sprintf("external volume %q not found", ext), "berth volume create " + ext} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error does not say %q:\n%v", want, err)
		}
	}
	if vols := s.volumeNames(); len(vols) != 0 {
		t.Fatalf("a failed up created volumes: %v", vols)
	}
	if ps := strings.TrimSpace(s.must("ps", "-a", "-q")); ps != "" {
		t.Fatalf("a failed up created containers: %q", ps)
	}
	s.must("volume", "create", ext)
	s.must("up", "-d")
	s.sh("app", "echo kept > /shared/f")
	s.must("down", "-v", "-t", "1")
	if vols := s.volumeNames(); !slices.Equal(vols, []string{ext}) {
		t.Fatalf("down -v must keep only the external volume: %v", vols)
	}
	if got := readFile(t, filepath.Join(s.volumeData(ext), "f")); got != "kept\n" {
		t.Fatalf("external volume content: %q", got)
	}
	s.must("volume", "rm", ext)
}
