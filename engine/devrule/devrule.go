// Package devrule is the one definition of a container's device cgroup
// rules: the rule type, docker's default list, the privileged allow-all
// rule and the parser of compose's device_cgroup_rules.
//
// engine/runtime builds a container's list from it and engine/cgroups
// applies that list (v1 devices.allow/devices.deny, v2 eBPF program). It
// is a leaf: only the standard library and containerd's errdefs, since
// runtime is linked into the small berth-init binary.
//
// A list of rules is applied in order on top of "deny everything": the
// cgroup layer writes DenyAll first itself, so no list here starts with it.
package devrule

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Rule is one device cgroup rule, as the v1 devices controller's
// devices.allow / devices.deny lines. The JSON tags are those of the
// records written by earlier versions (runtime's and cgroups' DeviceRule).
type Rule struct {
	// Allow is true for an allow rule, false for a deny rule.
	Allow bool `json:"allow"`
	// Type is 'a' (all devices), 'c' (char) or 'b' (block).
	Type rune `json:"type"`
	// Major and Minor are device numbers; -1 is the wildcard '*'.
	Major int64 `json:"major"`
	Minor int64 `json:"minor"`
	// Access is made of 'r', 'w' and 'm' (mknod).
	Access string `json:"access"`
}

// String is the rule in devices.allow / devices.list syntax ("c 1:3 rwm").
func (r Rule) String() string {
	if r.Type == 'a' {
		return "a *:* " + r.Access
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, devNum(r.Major), devNum(r.Minor), r.Access)
}

func devNum(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// Valid reports whether the kernel would take r: a known type and an
// access of r, w and m, each at most once.
func (r Rule) Valid() bool {
	return (r.Type == 'a' || r.Type == 'b' || r.Type == 'c') && ValidAccess(r.Access)
}

// ValidAccess reports whether a is a non-empty combination of r, w and m,
// each at most once ("rwm", "mr", "r").
func ValidAccess(a string) bool {
	if a == "" || len(a) > 3 {
		return false
	}
	for i, c := range a {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(a[:i], c) {
			return false
		}
	}
	return true
}

// DenyAll denies every access to every device. The cgroup layer applies it
// before any list; it is not part of Defaults.
var DenyAll = Rule{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}

// AllowAll is the rule of a privileged container: every access to every
// device.
var AllowAll = Rule{Allow: true, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}

// Defaults returns docker's (runc's) device rules for an unprivileged
// container, to be applied after DenyAll: mknod of any node and use of
// /dev/null, zero, full, random, urandom, tty, console, ptmx, the ptys and
// /dev/net/tun. Each call returns a new slice the caller may append to.
func Defaults() []Rule {
	return []Rule{
		{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"},
		{Allow: true, Type: 'b', Major: -1, Minor: -1, Access: "m"},
		{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"},    // null
		{Allow: true, Type: 'c', Major: 1, Minor: 5, Access: "rwm"},    // zero
		{Allow: true, Type: 'c', Major: 1, Minor: 7, Access: "rwm"},    // full
		{Allow: true, Type: 'c', Major: 1, Minor: 8, Access: "rwm"},    // random
		{Allow: true, Type: 'c', Major: 1, Minor: 9, Access: "rwm"},    // urandom
		{Allow: true, Type: 'c', Major: 5, Minor: 0, Access: "rwm"},    // tty
		{Allow: true, Type: 'c', Major: 5, Minor: 1, Access: "rwm"},    // console
		{Allow: true, Type: 'c', Major: 5, Minor: 2, Access: "rwm"},    // ptmx
		{Allow: true, Type: 'c', Major: 136, Minor: -1, Access: "rwm"}, // pts/*
		{Allow: true, Type: 'c', Major: 10, Minor: 200, Access: "rwm"}, // net/tun
	}
}

// Parse parses a compose device_cgroup_rules entry ("c 13:* rwm",
// "a *:* r", "b 8:0 m"; the access defaults to rwm). The rule allows.
func Parse(s string) (Rule, error) {
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("device_cgroup_rules: %q: %s (want \"c|b|a major|*:minor|* [rwm]\"): %w", s, why, errdefs.ErrInvalidArgument)
	}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return bad("wrong number of fields")
	}
	if len(f[0]) != 1 || !strings.Contains("abc", f[0]) {
		return bad("type must be a, b or c")
	}
	r := Rule{Allow: true, Type: rune(f[0][0]), Access: "rwm"}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("missing major:minor")
	}
	if r.Major, ok = parseDevNum(maj); !ok {
		return bad("bad major")
	}
	if r.Minor, ok = parseDevNum(min); !ok {
		return bad("bad minor")
	}
	if len(f) == 3 {
		r.Access = f[2]
		if !ValidAccess(r.Access) {
			return bad("access must be made of r, w and m, each at most once")
		}
	}
	return r, nil
}

// parseDevNum is a device number: "*" (-1) or a decimal number >= 0.
func parseDevNum(s string) (int64, bool) {
	if s == "*" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}
