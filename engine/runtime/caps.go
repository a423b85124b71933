package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/capability"
)

// DefaultCapabilities are docker's default capabilities (moby
// oci/caps/defaults.go), CapEff 00000000a80425fb.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// capByName maps "CAP_CHOWN" to the capability for every capability the
// library knows.
func capByName(name string) (capability.Cap, bool) {
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == name {
			return c, true
		}
	}
	return 0, false
}

// AllCapabilities lists every capability berth can give: those the kernel
// supports that are in berth's own bounding set (as docker's privileged
// gets what the daemon has), "CAP_…".
func AllCapabilities() []string {
	list, err := capability.ListSupported()
	if err != nil {
		list = capability.ListKnown()
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		// PR_CAPBSET_READ asks the calling thread (/proc/self/status would
		// show the main thread, which a locked exec may have restricted).
		if in, err := capability.GetBound(c); err == nil && !in {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// normalizeCap turns "chown", "CAP_chown" or "ALL" into "CAP_CHOWN" / "ALL"
// and checks that the capability exists.
func normalizeCap(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "ALL" {
		return u, nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	if _, ok := capByName(u); !ok {
		return "", fmt.Errorf("unknown capability %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return u, nil
}

// Capabilities computes the process's capabilities as docker does: the
// default set (every capability when privileged), then cap_drop (ALL drops
// everything), then cap_add (ALL adds everything). Names may omit "CAP_"
// and are case-insensitive.
func Capabilities(capAdd, capDrop []string, privileged bool) ([]string, error) {
	if privileged {
		return AllCapabilities(), nil
	}
	add, err := normalizeCaps(capAdd)
	if err != nil {
		return nil, fmt.Errorf("cap_add: %w", err)
	}
	drop, err := normalizeCaps(capDrop)
	if err != nil {
		return nil, fmt.Errorf("cap_drop: %w", err)
	}
	if slices.Contains(add, "ALL") {
		out := AllCapabilities()
		if slices.Contains(drop, "ALL") {
			return out, nil
		}
		return slices.DeleteFunc(out, func(c string) bool { return slices.Contains(drop, c) }), nil
	}
	var out []string
	if !slices.Contains(drop, "ALL") {
		for _, c := range DefaultCapabilities {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
	}
	for _, c := range add {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func normalizeCaps(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		c, err := normalizeCap(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// capSet is the capability state to give the user's process: the same set
// bounding, effective and permitted; inheritable and ambient empty (docker
// since 20.10.14). A non-root process keeps none of them across execve,
// as with docker.
type capSet struct {
	c capability.Capabilities
}

func newCapSet(names []string) (*capSet, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	c.Clear(capability.BOUNDING | capability.CAPS | capability.AMBIENT)
	for _, n := range names {
		cp, ok := capByName(n)
		if !ok {
			return nil, fmt.Errorf("unknown capability %q: %w", n, errdefs.ErrInvalidArgument)
		}
		c.Set(capability.BOUNDING|capability.EFFECTIVE|capability.PERMITTED, cp)
	}
	return &capSet{c: c}, nil
}

// applyBounding drops from the calling thread's bounding set every
// capability not in the set (needs CAP_SETPCAP, so before switching user).
func (s *capSet) applyBounding() error {
	if err := s.c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("apply capability bounding set: %w", err)
	}
	return nil
}

// apply sets the calling thread's effective, permitted, inheritable and
// ambient sets.
func (s *capSet) apply() error {
	if err := s.c.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	return nil
}
