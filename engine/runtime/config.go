package runtime

import (
	"github.com/berthdev/berth/engine/mount"
)

// Config is everything the container's init needs, fully resolved by the
// engine: no image lookups and no compose semantics remain. It is sent as
// JSON over the init's config pipe (fd 3).
type Config struct {
	// ID is the container id (used for the cgroup and diagnostics).
	ID string `json:"id"`
	// Rootfs are the mounts that make the root filesystem (the first is
	// mounted on RootfsDir; usually one overlay).
	Rootfs []mount.Mount `json:"rootfs"`
	// RootfsDir is the host directory the root filesystem is assembled on
	// (inside the container's private mount namespace).
	RootfsDir string `json:"rootfs_dir"`
	// ReadonlyRootfs remounts / read-only after setup.
	ReadonlyRootfs bool `json:"readonly_rootfs,omitempty"`
	// Mounts are volumes, binds and tmpfs, after /proc /dev /sys, parents
	// before children. Targets are resolved inside the rootfs; a symlink
	// that climbs above the root on the way is refused, and /proc may not
	// be mounted over.
	Mounts []Mount `json:"mounts,omitempty"`
	// Files are small files berth provides (/etc/hosts, /etc/hostname,
	// /etc/resolv.conf): host path bind-mounted onto the container path.
	Files []Mount `json:"files,omitempty"`

	// Args is the process (argv[0] is looked up in the container's PATH).
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`
	// User is "user[:group]" by name or id, resolved by the init in the
	// container's own /etc/passwd and /etc/group (the overlay is only
	// mounted inside the container's mount namespace). When set it replaces
	// UID and GID and gives the user's supplementary groups; empty means
	// UID and GID as given.
	User string `json:"user,omitempty"`
	// GroupAdd are extra groups by name or id (compose group_add), resolved
	// like User and added to AdditionalGids.
	GroupAdd       []string `json:"group_add,omitempty"`
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additional_gids,omitempty"`

	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	// Namespaces: each of NewNet/NewIPC/NewPID false with a Join path set
	// means join that namespace (e.g. /proc/PID/ns/net); both unset means
	// the host's (network_mode: host).
	Namespaces Namespaces `json:"namespaces"`

	// Capabilities is the full set (bounding, effective, permitted,
	// inheritable, ambient for non-root as docker), e.g. "CAP_CHOWN".
	Capabilities []string `json:"capabilities"`
	NoNewPrivs   bool     `json:"no_new_privs,omitempty"`
	// Seccomp is a precompiled BPF program (sock_filter array, raw bytes);
	// nil means unconfined.
	Seccomp []byte `json:"seccomp,omitempty"`
	// Privileged skips masked and read-only paths and gives all devices.
	Privileged    bool     `json:"privileged,omitempty"`
	MaskedPaths   []string `json:"masked_paths,omitempty"`
	ReadonlyPaths []string `json:"readonly_paths,omitempty"`
	Devices       []Device `json:"devices,omitempty"`
	// DeviceRules are the device cgroup rules (Docker's default allow list,
	// the mapped devices, device_cgroup_rules; allow-all when privileged).
	// The init ignores them: the cgroups part applies them (v1 devices
	// controller; v2 needs an eBPF program).
	DeviceRules []DeviceRule `json:"device_rules,omitempty"`

	Rlimits     []Rlimit          `json:"rlimits,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	OomScoreAdj *int              `json:"oom_score_adj,omitempty"`
	ShmSize     int64             `json:"shm_size,omitempty"`

	// Tty makes the init allocate a pty in the container's devpts and send
	// the master over the console socket (fd 5); Process.Console is it.
	Tty bool `json:"tty,omitempty"`
	// ConsoleRows and ConsoleCols are the terminal's size from the start.
	ConsoleRows uint16 `json:"console_rows,omitempty"`
	ConsoleCols uint16 `json:"console_cols,omitempty"`
	// Init runs berth's minimal init as PID 1 (signal forwarding, reaping)
	// with the user's process as its child.
	Init bool `json:"init,omitempty"`
}

// Namespaces says which namespaces are new, joined or shared with the host.
type Namespaces struct {
	NewNet    bool   `json:"new_net,omitempty"`
	JoinNet   string `json:"join_net,omitempty"`
	NewIPC    bool   `json:"new_ipc,omitempty"`
	JoinIPC   string `json:"join_ipc,omitempty"`
	NewPID    bool   `json:"new_pid,omitempty"`
	JoinPID   string `json:"join_pid,omitempty"`
	NewUTS    bool   `json:"new_uts,omitempty"`
	NewCgroup bool   `json:"new_cgroup,omitempty"`
}

// Mount is one container mount (see engine.Mount).
type Mount struct {
	// Type is "bind", "tmpfs", or a filesystem type of the kernel for a
	// volume with its own filesystem (Source is then its device).
	Type   string `json:"type"`
	Source string `json:"source,omitempty"`
	Target string `json:"target"`
	// Options are flags ("ro", "nosuid", "noexec", "rbind", "rprivate", …)
	// and, for other than binds, filesystem data ("size=…", "mode=…").
	// tmpfs defaults to nosuid,nodev,noexec ("exec" etc. undo them).
	Options     []string `json:"options,omitempty"`
	CopyUp      bool     `json:"copy_up,omitempty"`
	Propagation string   `json:"propagation,omitempty"`
}

// Device is a device node to create in the container's /dev.
type Device struct {
	Path  string `json:"path"`
	Type  rune   `json:"type"` // 'c' or 'b'
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
	Mode  uint32 `json:"mode"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

// Rlimit is one setrlimit(2) call, Type as "RLIMIT_NOFILE".
type Rlimit struct {
	Type string `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}
