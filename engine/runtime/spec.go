package runtime

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/berthdev/berth/engine/devrule"
	"github.com/berthdev/berth/engine/mount"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// DefaultMaskedPaths are docker's masked paths (moby oci/defaults.go).
var DefaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are docker's read-only paths.
var DefaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// Namespace modes of SpecInput.
const (
	NamespacePrivate = "" // the container's own
	NamespaceHost    = "host"
)

// SpecInput is a container's process and security settings as compose and
// the image give them, before docker's defaults are applied. BuildConfig
// turns it into the Config the init runs.
type SpecInput struct {
	ID        string
	Rootfs    []mount.Mount
	RootfsDir string

	// Args is the resolved entrypoint+cmd; Env the merged environment.
	Args []string
	Env  []string
	// Cwd is the working directory ("" means "/").
	Cwd string
	// User is "user[:group]" (resolved by the init); GroupAdd extra groups.
	User     string
	GroupAdd []string

	Hostname   string
	Domainname string

	// Net, IPC and PID are NamespacePrivate, NamespaceHost, or the path of
	// another container's namespace to join (/proc/PID/ns/net), which is
	// how network_mode/ipc/pid "container:X" and "service:X" arrive.
	// network_mode "none" is NamespacePrivate with no networks attached.
	Net, IPC, PID string
	// UTS and Cgroup are NamespacePrivate or NamespaceHost.
	UTS, Cgroup string

	CapAdd, CapDrop []string
	Privileged      bool
	// SecurityOpt are compose security_opt entries: "no-new-privileges"
	// (":true"/":false"), "seccomp=unconfined", "seccomp=/path.json",
	// "systempaths=unconfined"; "apparmor=…" and "label=…" are accepted and
	// ignored (berth has no LSM support yet).
	SecurityOpt       []string
	Devices           []DeviceMapping
	DeviceCgroupRules []string
	Sysctls           map[string]string
	Ulimits           []Ulimit
	OomScoreAdj       *int
	ShmSize           int64
	ReadOnly          bool

	Mounts []Mount
	Files  []Mount
	Tty    bool
	// ConsoleRows and ConsoleCols size the terminal before the process
	// starts (docker's ConsoleSize); 0 leaves it 0x0 until a resize.
	ConsoleRows, ConsoleCols uint16
	Init                     bool
}

// DefaultNofile is the RLIMIT_NOFILE a container gets when ulimits do not
// set it: 1024 soft, 524288 hard (systemd's, which docker ≥ 25 hands on);
// the hard limit is capped at berth's own when berth may not raise it.
var DefaultNofile = Rlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 524288}

// BuildConfig applies docker's defaults to in and validates it: default
// capabilities with cap_add/cap_drop (all with privileged), masked and
// read-only paths, the default seccomp profile compiled to BPF (or the one
// security_opt names, or none), rlimits checked against what berth may set,
// namespaced sysctls only, devices and device cgroup rules. Errors name the
// setting and wrap errdefs.ErrInvalidArgument.
func BuildConfig(in SpecInput) (Config, error) {
	cfg := Config{
		ID:             in.ID,
		Rootfs:         in.Rootfs,
		RootfsDir:      in.RootfsDir,
		ReadonlyRootfs: in.ReadOnly,
		Mounts:         in.Mounts,
		Files:          in.Files,
		Args:           in.Args,
		Cwd:            in.Cwd,
		User:           in.User,
		GroupAdd:       in.GroupAdd,
		Hostname:       in.Hostname,
		Domainname:     in.Domainname,
		Privileged:     in.Privileged,
		OomScoreAdj:    in.OomScoreAdj,
		ShmSize:        in.ShmSize,
		Tty:            in.Tty,
		ConsoleRows:    in.ConsoleRows,
		ConsoleCols:    in.ConsoleCols,
		Init:           in.Init,
	}
	if len(in.Args) == 0 || in.Args[0] == "" {
		return Config{}, fmt.Errorf("no command specified: set command or entrypoint: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.Cwd == "" {
		cfg.Cwd = "/"
	}
	if !path.IsAbs(cfg.Cwd) {
		return Config{}, fmt.Errorf("working_dir %q is invalid: it needs to be an absolute path: %w", cfg.Cwd, errdefs.ErrInvalidArgument)
	}
	var err error
	if cfg.Namespaces, err = namespaces(in); err != nil {
		return Config{}, err
	}
	cfg.Env = defaultEnv(in.Env, in.Hostname)

	sec, err := parseSecurityOpts(in.SecurityOpt)
	if err != nil {
		return Config{}, err
	}
	cfg.NoNewPrivs = sec.noNewPrivs
	if cfg.Capabilities, err = Capabilities(in.CapAdd, in.CapDrop, in.Privileged); err != nil {
		return Config{}, err
	}
	// docker: privileged means unconfined unless a profile is named.
	if !(in.Privileged && !sec.seccompSet) {
		if cfg.Seccomp, err = CompileSeccomp(sec.seccomp, cfg.Capabilities); err != nil {
			return Config{}, fmt.Errorf("security_opt: %w", err)
		}
	}
	if !in.Privileged && !sec.systemPathsUnconfined {
		cfg.MaskedPaths = slices.Clone(DefaultMaskedPaths)
		cfg.ReadonlyPaths = slices.Clone(DefaultReadonlyPaths)
	}

	if cfg.Rlimits, err = Rlimits(in.Ulimits); err != nil {
		return Config{}, err
	}
	if !hasRlimit(cfg.Rlimits, "RLIMIT_NOFILE") {
		n := DefaultNofile
		var cur unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &cur) == nil && n.Hard > cur.Max && !hasCap(capability.CAP_SYS_RESOURCE) {
			n.Hard = cur.Max
			n.Soft = min(n.Soft, n.Hard)
		}
		cfg.Rlimits = append(cfg.Rlimits, n)
	}
	if err := ValidateSysctls(in.Sysctls, cfg.Namespaces); err != nil {
		return Config{}, err
	}
	cfg.Sysctls = in.Sysctls

	devs, rules, err := HostDevices(in.Devices)
	if err != nil {
		return Config{}, err
	}
	if in.Privileged {
		all, err := privilegedDevices()
		if err != nil {
			return Config{}, err
		}
		cfg.Devices = append(all, devs...)
		cfg.DeviceRules = []DeviceRule{devrule.AllowAll}
		return cfg, nil
	}
	cfg.Devices = devs
	// The whole list: the cgroups part applies it after denying everything
	// and adds nothing (records of earlier versions began with a deny-all,
	// which changes nothing there).
	cfg.DeviceRules = append(devrule.Defaults(), rules...)
	for _, s := range in.DeviceCgroupRules {
		r, err := devrule.Parse(s)
		if err != nil {
			return Config{}, err
		}
		cfg.DeviceRules = append(cfg.DeviceRules, r)
	}
	return cfg, nil
}

func hasRlimit(l []Rlimit, typ string) bool {
	for _, r := range l {
		if r.Type == typ {
			return true
		}
	}
	return false
}

func namespaces(in SpecInput) (Namespaces, error) {
	var ns Namespaces
	mode := func(key, v string, private *bool, join *string) error {
		switch {
		case v == NamespacePrivate || v == "private" || v == "none":
			*private = true
		case v == NamespaceHost:
		case path.IsAbs(v) && join != nil:
			*join = v
		default:
			return fmt.Errorf("%s mode %q: want \"\", \"host\" or a namespace path: %w", key, v, errdefs.ErrInvalidArgument)
		}
		return nil
	}
	if err := mode("network", in.Net, &ns.NewNet, &ns.JoinNet); err != nil {
		return ns, err
	}
	if err := mode("ipc", in.IPC, &ns.NewIPC, &ns.JoinIPC); err != nil {
		return ns, err
	}
	if err := mode("pid", in.PID, &ns.NewPID, &ns.JoinPID); err != nil {
		return ns, err
	}
	if err := mode("uts", in.UTS, &ns.NewUTS, nil); err != nil {
		return ns, err
	}
	if err := mode("cgroup", in.Cgroup, &ns.NewCgroup, nil); err != nil {
		return ns, err
	}
	return ns, nil
}

// defaultEnv adds PATH and HOSTNAME when env lacks them, as docker does.
func defaultEnv(env []string, hostname string) []string {
	out := append([]string{}, env...)
	if _, ok := getenv(out, "PATH"); !ok {
		out = append(out, "PATH="+DefaultPath)
	}
	if _, ok := getenv(out, "HOSTNAME"); !ok && hostname != "" {
		out = append([]string{"HOSTNAME=" + hostname}, out...)
	}
	return out
}

type securityOpts struct {
	noNewPrivs            bool
	seccomp               string
	seccompSet            bool
	systemPathsUnconfined bool
}

func parseSecurityOpts(opts []string) (securityOpts, error) {
	var s securityOpts
	for _, o := range opts {
		k, v, hasV := strings.Cut(o, "=")
		if !hasV {
			k, v, hasV = strings.Cut(o, ":") // the legacy "seccomp:unconfined" form
		}
		switch k {
		case "no-new-privileges":
			switch {
			case !hasV || v == "true":
				s.noNewPrivs = true
			case v == "false":
				s.noNewPrivs = false
			default:
				return s, fmt.Errorf("security_opt %q: no-new-privileges takes true or false: %w", o, errdefs.ErrInvalidArgument)
			}
		case "seccomp":
			if !hasV || v == "" {
				return s, fmt.Errorf("security_opt %q: seccomp needs \"unconfined\" or a profile path: %w", o, errdefs.ErrInvalidArgument)
			}
			s.seccompSet = true
			s.seccomp = v
			if v == "builtin" {
				s.seccomp = ""
			}
		case "systempaths":
			if v != "unconfined" {
				return s, fmt.Errorf("security_opt %q: only systempaths=unconfined is known: %w", o, errdefs.ErrInvalidArgument)
			}
			s.systemPathsUnconfined = true
		case "apparmor", "label":
			// No LSM support: accepted so that compose files written for
			// docker keep working.
		default:
			return s, fmt.Errorf("security_opt %q is not supported: %w", o, errdefs.ErrInvalidArgument)
		}
	}
	return s, nil
}

// privilegedDevices lists the host's device nodes for a privileged
// container (runc's HostDevices: /dev/pts, shm, mqueue and console are
// the container's own).
func privilegedDevices() ([]Device, error) {
	devs, _, err := HostDevices([]DeviceMapping{{PathOnHost: "/dev", PathInContainer: "/dev"}})
	if err != nil {
		return nil, err
	}
	out := devs[:0]
	for _, d := range devs {
		switch {
		case strings.HasPrefix(d.Path, "/dev/pts/"), strings.HasPrefix(d.Path, "/dev/shm/"),
			strings.HasPrefix(d.Path, "/dev/mqueue/"), d.Path == "/dev/console", d.Path == "/dev/ptmx",
			strings.HasPrefix(d.Path, "/dev/.lxc/"), strings.HasPrefix(d.Path, "/dev/fd/"):
			continue
		}
		out = append(out, d)
	}
	return out, nil
}
