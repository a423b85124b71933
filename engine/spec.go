// Package engine assembles berth's container engine: the image store, the
// snapshotter, the runtime, cgroups and the per-container monitor, behind one
// Engine value that the scheduler drives.
//
// The engine knows nothing of compose: the scheduler translates a compose
// service into a ContainerSpec. Networking and DNS are done by the network
// package and handed in through the Networker interface (cmd/berth wires it),
// so engine never imports network.
package engine

import (
	"time"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/netspec"
)

// ContainerSpec is everything needed to create one container: the service's
// settings already resolved by the scheduler (names, labels, host paths of
// volumes, networks with their bridges), and nothing compose-specific.
// Image defaults (Entrypoint, Cmd, Env, WorkingDir, User, Healthcheck,
// StopSignal, Volumes) are merged in by the engine at Create.
type ContainerSpec struct {
	// Name is the container name, e.g. "myapp-web-1". Unique per root.
	Name string `json:"name"`
	// Labels are the container's labels (com.docker.compose.*).
	Labels map[string]string `json:"labels,omitempty"`
	// Image is the image reference as the user wrote it ("postgres:16").
	Image string `json:"image"`
	// Platform is "os/arch[/variant]"; empty means the host's.
	Platform string `json:"platform,omitempty"`

	// Entrypoint replaces the image's when non-nil (an empty non-nil slice
	// resets it, as compose's `entrypoint: []` does).
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Cmd replaces the image's when non-nil.
	Cmd []string `json:"cmd,omitempty"`
	// Env is KEY=VALUE, applied over the image's Env.
	Env []string `json:"env,omitempty"`
	// WorkingDir replaces the image's when non-empty.
	WorkingDir string `json:"working_dir,omitempty"`
	// User is "user[:group]" by name or id; empty means the image's.
	User string `json:"user,omitempty"`
	// GroupAdd are extra groups, by name or id.
	GroupAdd []string `json:"group_add,omitempty"`

	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	// Tty allocates a terminal for the process; OpenStdin keeps stdin open.
	Tty       bool `json:"tty,omitempty"`
	OpenStdin bool `json:"stdin_open,omitempty"`
	// ConsoleSize is the terminal's size from the start (docker's
	// HostConfig.ConsoleSize), for a run attached to the caller's terminal.
	ConsoleSize *WinSize `json:"console_size,omitempty"`
	// ReadOnly mounts the root filesystem read-only.
	ReadOnly bool `json:"read_only,omitempty"`
	// Init runs a minimal init as PID 1 that forwards signals and reaps.
	Init bool `json:"init,omitempty"`

	// StopSignal replaces the image's ("SIGTERM" when both are empty).
	StopSignal string `json:"stop_signal,omitempty"`
	// StopGracePeriod is the wait before SIGKILL; nil means 10 s.
	StopGracePeriod *time.Duration `json:"stop_grace_period,omitempty"`

	Privileged        bool              `json:"privileged,omitempty"`
	CapAdd            []string          `json:"cap_add,omitempty"`
	CapDrop           []string          `json:"cap_drop,omitempty"`
	SecurityOpt       []string          `json:"security_opt,omitempty"`
	Devices           []Device          `json:"devices,omitempty"`
	DeviceCgroupRules []string          `json:"device_cgroup_rules,omitempty"`
	Sysctls           map[string]string `json:"sysctls,omitempty"`
	Ulimits           []Ulimit          `json:"ulimits,omitempty"`
	Resources         Resources         `json:"resources,omitempty"`

	// Mounts are volumes, binds and tmpfs, sources already resolved to
	// host paths by the scheduler and the volumes package.
	Mounts []Mount `json:"mounts,omitempty"`

	// Network says how the container is networked.
	Network NetworkSpec `json:"network"`
	// IPC and PID are "" (private), "host", or "container:<id>".
	IPC string `json:"ipc,omitempty"`
	PID string `json:"pid,omitempty"`

	// Healthcheck replaces the image's when non-nil.
	Healthcheck *Healthcheck  `json:"healthcheck,omitempty"`
	Restart     RestartPolicy `json:"restart,omitempty"`
	Logging     Logging       `json:"logging,omitempty"`
	// AutoRemove removes the container when it exits (run --rm).
	AutoRemove bool `json:"auto_remove,omitempty"`
}

// Device maps a host device node into the container.
type Device struct {
	PathOnHost        string `json:"path_on_host"`
	PathInContainer   string `json:"path_in_container"`
	CgroupPermissions string `json:"cgroup_permissions,omitempty"` // "rwm" when empty
}

// Ulimit is one resource limit, e.g. {"nofile", 1024, 2048}.
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// Resources are the cgroup limits. Zero means unlimited / the default.
type Resources struct {
	Memory            int64   `json:"memory,omitempty"`             // bytes
	MemorySwap        int64   `json:"memory_swap,omitempty"`        // bytes, memory+swap; -1 unlimited
	MemoryReservation int64   `json:"memory_reservation,omitempty"` // bytes
	NanoCPUs          int64   `json:"nano_cpus,omitempty"`          // cpus * 1e9
	CPUShares         int64   `json:"cpu_shares,omitempty"`
	CPUQuota          int64   `json:"cpu_quota,omitempty"`  // µs
	CPUPeriod         int64   `json:"cpu_period,omitempty"` // µs
	CpusetCpus        string  `json:"cpuset_cpus,omitempty"`
	CpusetMems        string  `json:"cpuset_mems,omitempty"`
	PidsLimit         int64   `json:"pids_limit,omitempty"` // 0 unlimited
	OomScoreAdj       int     `json:"oom_score_adj,omitempty"`
	ShmSize           int64   `json:"shm_size,omitempty"` // bytes; 0 means 64 MiB
	CPUs              float64 `json:"-"`
}

// Mount is one volume, bind or tmpfs mount of a container.
type Mount struct {
	// Type is "bind" (also used for named volumes, whose Source is the
	// volume's data directory), "tmpfs", or another filesystem type of the
	// kernel ("ext4", "nfs", …) for a volume made with driver_opts type/
	// device/o, mounted in the container's mount namespace from Source.
	Type string `json:"type"`
	// Source is an absolute host path for bind, the device for other
	// filesystem types ("tmpfs" or empty for tmpfs).
	Source string `json:"source,omitempty"`
	// Target is the absolute path in the container; it is resolved inside
	// the root filesystem securely (symlinks cannot leave it).
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// Propagation is "", "private", "rprivate", "shared", "rshared", "slave", "rslave".
	Propagation string `json:"propagation,omitempty"`
	// CopyUp copies the image's content at Target into Source when Source
	// is empty (first mount of a named or anonymous volume).
	CopyUp bool `json:"copy_up,omitempty"`
	// TmpfsSize (bytes, 0 unlimited) and TmpfsMode (0 means 1777) for tmpfs.
	TmpfsSize int64  `json:"tmpfs_size,omitempty"`
	TmpfsMode uint32 `json:"tmpfs_mode,omitempty"`
	// Volume is the named volume's name, for inspect and for refusing to
	// remove a volume in use.
	Volume string `json:"volume,omitempty"`
	// Options are further mount(8) options, passed on to the runtime's
	// mount: flags ("nosuid", "nodev", "noexec", "ro") and filesystem data
	// ("size=10m", "uid=1000", "addr=10.0.0.1" of a volume's driver_opts o).
	// For tmpfs the scheduler sets docker's defaults (nosuid, nodev,
	// noexec) here unless the compose file overrides them.
	Options []string `json:"options,omitempty"`
}

// NetworkSpec is how a container is networked (declared in engine/netspec, which the monitor shares).
type NetworkSpec = netspec.NetworkSpec

// Interface is one network the container joins (declared in engine/netspec, which the monitor shares).
type Interface = netspec.Interface

// PortBinding is one published container port (declared in engine/netspec, which the monitor shares).
type PortBinding = netspec.PortBinding

// Healthcheck is a container health test, as in the image config and compose.
type Healthcheck struct {
	// Test is ["NONE"], ["CMD", args…] or ["CMD-SHELL", command].
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`       // 0 means 30 s
	Timeout       time.Duration `json:"timeout,omitempty"`        // 0 means 30 s
	StartPeriod   time.Duration `json:"start_period,omitempty"`   // 0 means none
	StartInterval time.Duration `json:"start_interval,omitempty"` // 0 means 5 s
	Retries       int           `json:"retries,omitempty"`        // 0 means 3
}

// RestartPolicy is docker's restart policy.
type RestartPolicy struct {
	// Name is "no" (or ""), "always", "on-failure", "unless-stopped".
	Name       string `json:"name,omitempty"`
	MaxRetries int    `json:"max_retries,omitempty"`
}

// Logging is the log driver settings; only "json-file" (the default) and
// "none" are supported, with options max-size and max-file.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Status is a container's state, as docker names it.
type Status string

// The container statuses, as `docker ps` shows them.
const (
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusRestarting Status = "restarting"
	StatusExited     Status = "exited"
	StatusRemoving   Status = "removing"
	StatusDead       Status = "dead"
)

// Health status values.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Container is what Inspect and List return.
type Container struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Created time.Time     `json:"created"`
	Spec    ContainerSpec `json:"spec"`
	// ImageID is the image's config digest ("sha256:…").
	ImageID string `json:"image_id"`
	// Path and Args are the resolved process (entrypoint + cmd).
	Path  string         `json:"path"`
	Args  []string       `json:"args"`
	State ContainerState `json:"state"`
	// Networks are the addresses the container got, by network name.
	Networks map[string]NetworkAttachment `json:"networks,omitempty"`
	// Ports are the published ports with their actual host ports.
	Ports []PortBinding `json:"ports,omitempty"`
}

// ContainerState is the runtime state of a container.
type ContainerState struct {
	Status     Status    `json:"status"`
	Running    bool      `json:"running"`
	Paused     bool      `json:"paused"`
	Restarting bool      `json:"restarting"`
	OOMKilled  bool      `json:"oom_killed"`
	Pid        int       `json:"pid"`
	ExitCode   int       `json:"exit_code"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// RestartCount counts restarts done by the restart policy.
	RestartCount int `json:"restart_count"`
	// MonitorAlive is false when the container's monitor died while the
	// container may still run (ps says so; the next command adopts or
	// cleans it).
	MonitorAlive bool    `json:"monitor_alive"`
	Health       *Health `json:"health,omitempty"`
}

// Health is the healthcheck state, as docker's State.Health.
type Health struct {
	Status        string        `json:"status"`
	FailingStreak int           `json:"failing_streak"`
	Log           []HealthProbe `json:"log,omitempty"`
}

// HealthProbe is one healthcheck run.
type HealthProbe struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exit_code"`
	Output   string    `json:"output"`
}

// NetworkAttachment is a container's place on one network (declared in engine/netspec, which the monitor shares).
type NetworkAttachment = netspec.NetworkAttachment

// RootfsMounts is what the snapshotter prepares for a container: the mounts
// that make its root filesystem, in order (usually one overlay).
type RootfsMounts = []mount.Mount
