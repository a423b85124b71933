package cgroups

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
)

// Limits are a container's cgroup settings, with docker's meanings (the same
// fields as engine.Resources; engine converts, since cgroups cannot import
// engine). Zero values mean "no limit" / "the default".
type Limits struct {
	// Memory is the memory limit in bytes (mem_limit); at least 6 MiB.
	Memory int64 `json:"memory,omitempty"`
	// MemorySwap is memory+swap in bytes (memswap_limit): 0 means twice
	// Memory (docker's default), -1 unlimited swap, equal to Memory no swap.
	MemorySwap int64 `json:"memory_swap,omitempty"`
	// MemoryReservation is the soft limit in bytes (mem_reservation).
	MemoryReservation int64 `json:"memory_reservation,omitempty"`
	// NanoCPUs is cpus × 1e9 (cpus: 1.5): a CFS quota over a 100 ms period.
	NanoCPUs int64 `json:"nano_cpus,omitempty"`
	// CPUShares is the relative weight (cpu_shares; 1024 is the default).
	CPUShares int64 `json:"cpu_shares,omitempty"`
	// CPUQuota and CPUPeriod are the CFS quota and period in µs; not with NanoCPUs.
	CPUQuota  int64 `json:"cpu_quota,omitempty"`
	CPUPeriod int64 `json:"cpu_period,omitempty"`
	// CpusetCpus and CpusetMems restrict CPUs and memory nodes ("0-1,3").
	CpusetCpus string `json:"cpuset_cpus,omitempty"`
	CpusetMems string `json:"cpuset_mems,omitempty"`
	// PidsLimit caps the number of tasks; 0 or -1 means unlimited.
	PidsLimit int64 `json:"pids_limit,omitempty"`

	// AllowAllDevices lifts the device restrictions (privileged).
	AllowAllDevices bool `json:"allow_all_devices,omitempty"`
	// Devices are rules applied after DefaultDevices, in order: the
	// `devices:` mappings (DeviceRuleForPath) and `device_cgroup_rules`
	// (ParseDeviceRule).
	Devices []DeviceRule `json:"devices,omitempty"`
}

// DeviceRule allows or denies access to device nodes, as a line of the v1
// devices cgroup does ("c 1:3 rwm").
type DeviceRule struct {
	// Type is 'a' (all), 'c' (char) or 'b' (block).
	Type rune `json:"type"`
	// Major and Minor are device numbers; -1 is the wildcard '*'.
	Major int64 `json:"major"`
	Minor int64 `json:"minor"`
	// Access is a combination of 'r', 'w' and 'm' (mknod).
	Access string `json:"access"`
	// Allow is true for an allow rule, false for a deny rule.
	Allow bool `json:"allow"`
}

// String is the rule in the v1 devices.list syntax.
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	if r.Type == 'a' {
		return "a *:* " + r.Access
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, num(r.Major), num(r.Minor), r.Access)
}

// DefaultDevices are the devices every container may use, the list docker
// (with runc) gives: mknod of any node, /dev/null, zero, full, random,
// urandom, tty, console, ptmx, the pts and /dev/net/tun. Everything else is
// denied.
var DefaultDevices = []DeviceRule{
	{Type: 'c', Major: -1, Minor: -1, Access: "m", Allow: true},
	{Type: 'b', Major: -1, Minor: -1, Access: "m", Allow: true},
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm", Allow: true},    // /dev/null
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm", Allow: true},    // /dev/zero
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm", Allow: true},    // /dev/full
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm", Allow: true},    // /dev/random
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm", Allow: true},    // /dev/urandom
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm", Allow: true},    // /dev/tty
	{Type: 'c', Major: 5, Minor: 1, Access: "rwm", Allow: true},    // /dev/console
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm", Allow: true},    // /dev/ptmx
	{Type: 'c', Major: 136, Minor: -1, Access: "rwm", Allow: true}, // /dev/pts/*
	{Type: 'c', Major: 10, Minor: 200, Access: "rwm", Allow: true}, // /dev/net/tun
}

// ParseDeviceRule parses a device_cgroup_rules entry: "TYPE MAJOR:MINOR
// ACCESS", e.g. "c 1:3 rwm", "b 8:* r", "a *:* rwm". It is an allow rule.
func ParseDeviceRule(s string) (DeviceRule, error) {
	bad := func(why string) (DeviceRule, error) {
		return DeviceRule{}, fmt.Errorf("device cgroup rule %q: %s; want e.g. \"c 1:3 rwm\": %w", s, why, errdefs.ErrInvalidArgument)
	}
	f := strings.Fields(s)
	if len(f) != 3 {
		if len(f) == 1 && f[0] == "a" { // "a" alone means all devices, all access
			return DeviceRule{Type: 'a', Major: -1, Minor: -1, Access: "rwm", Allow: true}, nil
		}
		return bad("want three fields")
	}
	if len(f[0]) != 1 || !strings.Contains("acb", f[0]) {
		return bad("type must be a, c or b")
	}
	maj, mnr, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("numbers must be MAJOR:MINOR")
	}
	num := func(v string) (int64, bool) {
		if v == "*" {
			return -1, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n >= 0
	}
	r := DeviceRule{Type: rune(f[0][0]), Access: f[2], Allow: true}
	if r.Major, ok = num(maj); !ok {
		return bad("bad major number")
	}
	if r.Minor, ok = num(mnr); !ok {
		return bad("bad minor number")
	}
	if !validAccess(r.Access) {
		return bad("access must be a combination of r, w and m")
	}
	return r, nil
}

func validAccess(a string) bool {
	if a == "" || len(a) > 3 {
		return false
	}
	for _, c := range a {
		if !strings.ContainsRune("rwm", c) || strings.Count(a, string(c)) > 1 {
			return false
		}
	}
	return true
}

// DeviceRuleForPath is the allow rule for the host device node at path (a
// `devices:` entry), with access perms ("" means "rwm").
func DeviceRuleForPath(path, perms string) (DeviceRule, error) {
	if perms == "" {
		perms = "rwm"
	}
	if !validAccess(perms) {
		return DeviceRule{}, fmt.Errorf("device %s: permissions %q must be a combination of r, w and m: %w", path, perms, errdefs.ErrInvalidArgument)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if err == unix.ENOENT {
			return DeviceRule{}, fmt.Errorf("device %s: no such device on this host: %w", path, errdefs.ErrNotFound)
		}
		return DeviceRule{}, fmt.Errorf("device %s: %w", path, &os.PathError{Op: "stat", Path: path, Err: err})
	}
	var t rune
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		t = 'c'
	case unix.S_IFBLK:
		t = 'b'
	default:
		return DeviceRule{}, fmt.Errorf("device %s is not a character or block device: %w", path, errdefs.ErrInvalidArgument)
	}
	return DeviceRule{Type: t, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Access: perms, Allow: true}, nil
}

// cfsPeriod is the CFS period NanoCPUs is converted with (docker's).
const cfsPeriod = 100000

// Validate checks l the way docker does and returns ErrInvalidArgument with
// the offending setting named.
func (l Limits) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	const minMemory = 6 << 20
	switch {
	case l.Memory < 0:
		return bad("mem_limit %d: must not be negative", l.Memory)
	case l.Memory > 0 && l.Memory < minMemory:
		return bad("mem_limit %d: the minimum is 6MB", l.Memory)
	case l.MemorySwap > 0 && l.Memory == 0:
		return bad("memswap_limit needs mem_limit to be set as well")
	case l.MemorySwap > 0 && l.MemorySwap < l.Memory:
		return bad("memswap_limit %d must not be less than mem_limit %d (it counts memory plus swap)", l.MemorySwap, l.Memory)
	case l.MemorySwap < -1:
		return bad("memswap_limit %d: use -1 for unlimited swap", l.MemorySwap)
	case l.MemoryReservation < 0:
		return bad("mem_reservation %d: must not be negative", l.MemoryReservation)
	case l.Memory > 0 && l.MemoryReservation > l.Memory:
		return bad("mem_reservation %d must not be more than mem_limit %d", l.MemoryReservation, l.Memory)
	case l.NanoCPUs < 0:
		return bad("cpus: must not be negative")
	case l.NanoCPUs > 0 && (l.CPUQuota != 0 || l.CPUPeriod != 0):
		return bad("cpus cannot be combined with cpu_quota or cpu_period; use one or the other")
	case l.NanoCPUs > 0 && l.NanoCPUs < 1e7:
		return bad("cpus %.3f: the minimum is 0.01", float64(l.NanoCPUs)/1e9)
	case l.NanoCPUs > int64(runtime.NumCPU())*1e9:
		return bad("cpus %.2f: the range is 0.01 to %d.00, as there are only %d CPUs available", float64(l.NanoCPUs)/1e9, runtime.NumCPU(), runtime.NumCPU())
	case l.CPUShares < 0:
		return bad("cpu_shares %d: must not be negative", l.CPUShares)
	case l.CPUPeriod != 0 && (l.CPUPeriod < 1000 || l.CPUPeriod > 1000000):
		return bad("cpu_period %d: must be between 1000 and 1000000 µs", l.CPUPeriod)
	case l.CPUQuota > 0 && l.CPUQuota < 1000:
		return bad("cpu_quota %d: the minimum is 1000 µs", l.CPUQuota)
	case l.CPUQuota < -1:
		return bad("cpu_quota %d: use -1 for no quota", l.CPUQuota)
	case l.PidsLimit < -1:
		return bad("pids_limit %d: use -1 or 0 for unlimited", l.PidsLimit)
	}
	for _, r := range l.Devices {
		if !strings.ContainsRune("acb", r.Type) || !validAccess(r.Access) {
			return bad("device rule %q is malformed", r.String())
		}
	}
	return nil
}

// resources converts l into the cgroups library's settings for the v1
// (unified false) or v2 files. Devices are returned separately: berth writes
// them itself after the rest.
func (l Limits) resources(unified bool) *libcg.Resources {
	r := &libcg.Resources{
		Memory:            l.Memory,
		MemoryReservation: l.MemoryReservation,
		MemorySwap:        l.MemorySwap,
		CpuQuota:          l.CPUQuota,
		CpuPeriod:         uint64(max(l.CPUPeriod, 0)),
		CpusetCpus:        l.CpusetCpus,
		CpusetMems:        l.CpusetMems,
		SkipDevices:       true,
	}
	if l.Memory > 0 && l.MemorySwap == 0 {
		r.MemorySwap = 2 * l.Memory // docker: as much swap as memory
	}
	if l.NanoCPUs > 0 {
		r.CpuPeriod = cfsPeriod
		r.CpuQuota = l.NanoCPUs * cfsPeriod / 1e9
	}
	if l.CPUShares > 0 {
		if unified {
			r.CpuWeight = libcg.ConvertCPUSharesToCgroupV2Value(uint64(l.CPUShares))
		} else {
			r.CpuShares = uint64(l.CPUShares)
		}
	}
	if l.PidsLimit > 0 {
		n := l.PidsLimit
		r.PidsLimit = &n
	}
	return r
}

// deviceRules is the full rule list for the library: deny all, the
// defaults, then l.Devices; or allow all.
func (l Limits) deviceRules() []*devcfg.Rule {
	if l.AllowAllDevices {
		return []*devcfg.Rule{{Type: devcfg.WildcardDevice, Major: -1, Minor: -1, Permissions: "rwm", Allow: true}}
	}
	out := []*devcfg.Rule{{Type: devcfg.WildcardDevice, Major: -1, Minor: -1, Permissions: "rwm", Allow: false}}
	for _, r := range append(DefaultDevices[:len(DefaultDevices):len(DefaultDevices)], l.Devices...) {
		out = append(out, &devcfg.Rule{
			Type:        devcfg.Type(r.Type),
			Major:       r.Major,
			Minor:       r.Minor,
			Permissions: devcfg.Permissions(r.Access),
			Allow:       r.Allow,
		})
	}
	return out
}

// controllersFor are the v2 controllers l's settings need.
func (l Limits) controllersFor() []string {
	var c []string
	if l.Memory != 0 || l.MemoryReservation != 0 || l.MemorySwap != 0 {
		c = append(c, "memory")
	}
	if l.NanoCPUs != 0 || l.CPUShares != 0 || l.CPUQuota != 0 || l.CPUPeriod != 0 {
		c = append(c, "cpu")
	}
	if l.CpusetCpus != "" || l.CpusetMems != "" {
		c = append(c, "cpuset")
	}
	if l.PidsLimit > 0 {
		c = append(c, "pids")
	}
	return c
}
