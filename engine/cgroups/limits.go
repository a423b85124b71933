package cgroups

import (
	"fmt"
	"runtime"

	"github.com/containerd/errdefs"
	libcg "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"

	"github.com/berthdev/berth/engine/devrule"
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

	// AllowAllDevices lifts the device restrictions (privileged); Devices
	// are then ignored.
	AllowAllDevices bool `json:"allow_all_devices,omitempty"`
	// Devices is the complete device rule list, applied in order after
	// everything is denied (devrule.DenyAll): for a container, the list
	// runtime.BuildConfig makes (devrule.Defaults, the `devices:`
	// mappings, `device_cgroup_rules`). Nothing is added to it. Empty
	// means docker's defaults alone (devrule.Defaults), like the other
	// zero values here.
	Devices []devrule.Rule `json:"devices,omitempty"`
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
		if !r.Valid() {
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

// deviceRules is the full rule list for the library: deny all, then
// l.Devices (docker's defaults when empty); or allow all.
func (l Limits) deviceRules() []*devcfg.Rule {
	if l.AllowAllDevices {
		return []*devcfg.Rule{libRule(devrule.AllowAll)}
	}
	rules := l.Devices
	if len(rules) == 0 {
		rules = devrule.Defaults()
	}
	out := make([]*devcfg.Rule, 0, 1+len(rules))
	out = append(out, libRule(devrule.DenyAll))
	for _, r := range rules {
		out = append(out, libRule(r))
	}
	return out
}

// libRule is r as the cgroups library's rule.
func libRule(r devrule.Rule) *devcfg.Rule {
	return &devcfg.Rule{
		Type:        devcfg.Type(r.Type),
		Major:       r.Major,
		Minor:       r.Minor,
		Permissions: devcfg.Permissions(r.Access),
		Allow:       r.Allow,
	}
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
