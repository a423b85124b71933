// Package sibling finds berth's helper binaries (berth-monitor, berth-init)
// installed beside the running executable.
//
// A container start executes two helpers: the monitor, which outlives the
// CLI, and the container's init, which sets the container up in its new
// namespaces and execs the user's process. Both start a Go runtime, and on
// a small VM the start-up of a 28 MB binary (package initialisers, page
// faults, the first GC) costs 20-30 ms before any work, twice per
// container; the dedicated binaries link only what their role needs and
// start in a third of that. When they are not installed (`go install` of
// cmd/berth alone) the berth binary re-executes itself for both roles.
package sibling

import (
	"os"
	"path/filepath"
	"strings"
)

// Names of the helper binaries.
const (
	Monitor = "berth-monitor"
	Init    = "berth-init"
)

// Find returns the path of the executable name in the directory of the
// running executable, or "" when there is none (the caller then
// re-executes itself).
func Find(name string) string {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return ""
	}
	// Replaced while running (a rebuild or an upgrade): the new helpers
	// beside the path are the ones to use.
	self = strings.TrimSuffix(self, " (deleted)")
	p := filepath.Join(filepath.Dir(self), name)
	if p == self {
		return ""
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return ""
	}
	return p
}
