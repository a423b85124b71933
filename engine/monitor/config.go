package monitor

import (
	"path/filepath"
	"time"

	"github.com/berthdev/berth/engine/cgroups"
	"github.com/berthdev/berth/engine/netspec"
	"github.com/berthdev/berth/engine/runtime"
	"github.com/berthdev/berth/engine/state"
)

// Version is the version of the files and of the control protocol the
// monitor speaks. A monitor started by an older berth keeps running its own
// code after an upgrade, so readers check it.
const Version = 1

// File names in a container's directories.
const (
	// In state.Paths.Container(id) (persistent):
	ConfigFile     = "config.json" // the engine's record, with the monitor's Config under "monitor"
	LastStateFile  = "state.json"  // the last state worth keeping over a reboot
	HostsFile      = "hosts"       // bind-mounted on /etc/hosts
	HostnameFile   = "hostname"    // bind-mounted on /etc/hostname
	ResolvConfFile = "resolv.conf" // bind-mounted on /etc/resolv.conf
	RootfsDir      = "merged"      // where the init assembles the root filesystem
	LogSuffix      = "-json.log"   // <id>-json.log, rotated to <id>-json.log.1 …
	MonitorLogFile = "monitor.log" // the monitor's own warnings
	// In state.Paths.ContainerRun(id) (volatile):
	LockFile   = "monitor.lock" // held LOCK_EX by the monitor for its whole life
	StateFile  = "state.json"   // the live state, written only by the monitor
	SocketFile = "ctl.sock"     // the control socket
	OpLockFile = "op.lock"      // serialises start/remove of one container across processes
)

// LogPath is the json-file log of container id.
func LogPath(p state.Paths, id string) string {
	return filepath.Join(p.Container(id), id+LogSuffix)
}

// Config is everything a monitor needs to run one container: written by
// the engine at create (inside config.json, under "monitor") and read by
// the monitor at each start. Nothing in it needs the image store.
type Config struct {
	Version int               `json:"version"`
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Image   string            `json:"image,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Project is the compose project ("" for none), for the networker.
	Project string `json:"project,omitempty"`

	// Init is the resolved process and isolation sent to the container's init.
	Init runtime.Config `json:"init"`
	// Cgroup says where the container's cgroup goes and its limits.
	Cgroup CgroupConfig `json:"cgroup"`
	// Network is how the container is networked; Mode "bridge" needs a
	// Networker.
	Network netspec.NetworkSpec `json:"network"`
	// Hostname is the container's host name (for /etc/hosts).
	Hostname string `json:"hostname,omitempty"`

	// OpenStdin keeps a pipe on the process's stdin for attach.
	OpenStdin bool `json:"open_stdin,omitempty"`
	// StopSignal is the signal stop sends first ("SIGTERM" when empty).
	StopSignal string `json:"stop_signal,omitempty"`
	// StopTimeout is the grace period before SIGKILL (nil: 10 s).
	StopTimeout *time.Duration `json:"stop_timeout,omitempty"`
	// Restart is the restart policy.
	Restart RestartPolicy `json:"restart,omitempty"`
	// Health is the healthcheck, nil or Test ["NONE"] for none.
	Health *Healthcheck `json:"health,omitempty"`
	// Log is where the process's output goes.
	Log LogConfig `json:"log,omitempty"`
	// AutoRemove removes the container once it has exited for good.
	AutoRemove bool `json:"auto_remove,omitempty"`
	// JoinNet, JoinIPC and JoinPID are ids of containers whose namespace
	// this one joins (network_mode/ipc/pid container:X): resolved to the
	// other container's current init at each start.
	JoinNet string `json:"join_net,omitempty"`
	JoinIPC string `json:"join_ipc,omitempty"`
	JoinPID string `json:"join_pid,omitempty"`
}

// CgroupConfig places the container's cgroup: Root and Parent as in
// cgroups.Options, Project the level under Parent.
type CgroupConfig struct {
	Root    string         `json:"root"`
	Parent  string         `json:"parent"`
	Project string         `json:"project"`
	Limits  cgroups.Limits `json:"limits"`
}

// RestartPolicy is docker's: Name "no", "always", "on-failure" or
// "unless-stopped"; MaxRetries bounds on-failure (0 unlimited).
type RestartPolicy struct {
	Name       string `json:"name,omitempty"`
	MaxRetries int    `json:"max_retries,omitempty"`
}

// Healthcheck is the container's health test, defaults already applied.
type Healthcheck struct {
	Test          []string      `json:"test"`
	Interval      time.Duration `json:"interval"`
	Timeout       time.Duration `json:"timeout"`
	StartPeriod   time.Duration `json:"start_period,omitempty"`
	StartInterval time.Duration `json:"start_interval"`
	Retries       int           `json:"retries"`
}

// LogConfig is the json-file driver's settings: MaxSize bytes per file (0
// unlimited) and MaxFile files kept (at least 1). Driver "none" discards.
type LogConfig struct {
	Driver  string `json:"driver,omitempty"`
	MaxSize int64  `json:"max_size,omitempty"`
	MaxFile int    `json:"max_file,omitempty"`
}

// Status values a monitor records, as docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// State is a container's runtime state: the live copy in the volatile
// directory (written only by the monitor while it lives) and the last copy
// in the persistent one (what a reboot leaves). Both are written atomically.
type State struct {
	Version int    `json:"version"`
	Status  string `json:"status"`
	Pid     int    `json:"pid,omitempty"`
	// PidStart is the init's start time in clock ticks since boot
	// (/proc/PID/stat field 22): with Pid it names the process without
	// the risk of pid reuse.
	PidStart     uint64    `json:"pid_start,omitempty"`
	MonitorPid   int       `json:"monitor_pid,omitempty"`
	ExitCode     int       `json:"exit_code"`
	Error        string    `json:"error,omitempty"`
	OOMKilled    bool      `json:"oom_killed,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	RestartCount int       `json:"restart_count,omitempty"`
	// Stopping is set once stop or kill was asked for: no restart follows.
	Stopping bool    `json:"stopping,omitempty"`
	Health   *Health `json:"health,omitempty"`
	// Networks and Ports are what the networker attached.
	Networks map[string]netspec.NetworkAttachment `json:"networks,omitempty"`
	Ports    []netspec.PortBinding                `json:"ports,omitempty"`
	// BootID is the kernel's boot id when the state was written: a
	// persistent state from another boot is history.
	BootID string `json:"boot_id,omitempty"`
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

// Health statuses.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)
