package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/engine/testutil"
)

// TestOverlayProbeOncePerBoot: the first snapshotter on a root probes and
// keeps the answer for this boot; the next one answers from it; an answer
// from another boot is probed again.
func TestOverlayProbeOncePerBoot(t *testing.T) {
	testutil.RequiresRoot(t)
	root := filepath.Join(t.TempDir(), "snapshots")
	newSnap := func() *Snapshotter {
		s, err := New(Options{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if !newSnap().OverlaySupported() {
		t.Skip("overlayfs is not usable under", root)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, probeFile)
	b, err := os.ReadFile(p)
	if err != nil || string(b) != strings.TrimSpace(string(boot))+"\nok" {
		t.Fatalf("probe file = %q, %v; want this boot's id and ok", b, err)
	}

	// This boot's answer is taken as it is, even a negative one.
	if err := os.WriteFile(p, []byte(strings.TrimSpace(string(boot))+"\nprobe mount: operation not permitted"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSnap()
	if s.OverlaySupported() || s.probeErr == nil || !strings.Contains(s.probeErr.Error(), "operation not permitted") {
		t.Fatalf("with a negative answer of this boot: supported=%v err=%v", s.overlayOK, s.probeErr)
	}

	// Another boot's answer is probed again.
	if err := os.WriteFile(p, []byte("another-boot\nprobe mount: operation not permitted"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !newSnap().OverlaySupported() {
		t.Fatal("an answer from another boot was not probed again")
	}
	if b, _ := os.ReadFile(p); !strings.HasSuffix(string(b), "\nok") {
		t.Fatalf("probe file after probing again = %q", b)
	}
}
