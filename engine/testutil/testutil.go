// Package testutil holds test-only helpers: skipping tests that need root
// and a Linux kernel, and the local registry fixture.
package testutil

import (
	"net"
	"os"
	"testing"
	"time"
)

// RequiresRoot skips t unless it runs as root (namespaces, mounts, cgroups,
// netlink). CI runs as root, so nothing is skipped there.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root (namespaces, mounts): run `go tool task test` as root")
	}
	if testing.Short() {
		t.Skip("root test skipped in -short mode")
	}
}

// Registry is the local fixture registry's address (scripts/registry.sh).
const Registry = "127.0.0.1:5000"

// Fixture images pushed by scripts/registry.sh and scripts/debian-images.sh.
const (
	BusyboxImage  = Registry + "/busybox:1"
	PostgresImage = Registry + "/debian-pg:15"
	NginxImage    = Registry + "/debian-nginx:1"
)

// RequiresRegistry skips t unless the fixture registry answers on
// 127.0.0.1:5000 (`go tool task fixtures` starts it; `go tool task test`
// does so first, so nothing is skipped there).
func RequiresRegistry(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", Registry, time.Second)
	if err != nil {
		t.Skipf("requires the fixture registry on %s: run `go tool task fixtures`", Registry)
	}
	_ = c.Close()
}
