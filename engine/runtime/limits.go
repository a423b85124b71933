package runtime

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// rlimitTypes maps compose/docker ulimit names to setrlimit resources.
var rlimitTypes = map[string]int{
	"as":         unix.RLIMIT_AS,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// Ulimit is one compose ulimit ("nofile", soft, hard); -1 means unlimited.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

func rlimitType(typ string) (int, string, bool) {
	name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(typ), "RLIMIT_"))
	r, ok := rlimitTypes[name]
	return r, name, ok
}

func rlimValue(v int64) uint64 {
	if v < 0 {
		return unix.RLIM_INFINITY
	}
	return uint64(v)
}

// Rlimits turns compose ulimits into Config.Rlimits and checks them against
// what berth may set: without CAP_SYS_RESOURCE a limit cannot go above the
// caller's own hard limit, and that is reported now, naming the limit,
// rather than as an init failure.
func Rlimits(ulimits []Ulimit) ([]Rlimit, error) {
	if len(ulimits) == 0 {
		return nil, nil
	}
	canRaise := hasCap(capability.CAP_SYS_RESOURCE)
	out := make([]Rlimit, 0, len(ulimits))
	for _, u := range ulimits {
		res, name, ok := rlimitType(u.Name)
		if !ok {
			return nil, fmt.Errorf("ulimits: unknown limit %q: %w", u.Name, errdefs.ErrInvalidArgument)
		}
		soft, hard := rlimValue(u.Soft), rlimValue(u.Hard)
		if soft > hard {
			return nil, fmt.Errorf("ulimits: %s: soft limit %d is above the hard limit %d: %w", name, u.Soft, u.Hard, errdefs.ErrInvalidArgument)
		}
		if !canRaise {
			var cur unix.Rlimit
			if err := unix.Getrlimit(res, &cur); err == nil && hard > cur.Max {
				return nil, fmt.Errorf("ulimits: %s: hard limit %s is above berth's own hard limit %s and berth lacks CAP_SYS_RESOURCE to raise it; lower the %s limit to at most %s: %w",
					name, limitString(hard), limitString(cur.Max), name, limitString(cur.Max), errdefs.ErrInvalidArgument)
			}
		}
		out = append(out, Rlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard})
	}
	return out, nil
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

func hasCap(c capability.Cap) bool {
	caps, err := capability.NewPid2(0)
	if err != nil || caps.Load() != nil {
		return false
	}
	return caps.Get(capability.EFFECTIVE, c)
}

// setRlimits applies the limits to the init, which the user's process
// inherits across execve.
func setRlimits(limits []Rlimit) error {
	for _, l := range limits {
		res, name, ok := rlimitType(l.Type)
		if !ok {
			return fmt.Errorf("unknown rlimit %q", l.Type)
		}
		// syscall.Setrlimit, not unix's: it also stops Go from restoring
		// its saved RLIMIT_NOFILE at exec.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("ulimit %s=%s:%s: %w", name, limitString(l.Soft), limitString(l.Hard), err)
		}
	}
	return nil
}

// namespacedSysctls are the IPC sysctls that belong to the IPC namespace
// (runc's list); "fs.mqueue.*" and, with a network namespace of the
// container's own, "net.*" are accepted too.
var namespacedSysctls = map[string]bool{
	"kernel.msgmax":          true,
	"kernel.msgmnb":          true,
	"kernel.msgmni":          true,
	"kernel.sem":             true,
	"kernel.shmall":          true,
	"kernel.shmmax":          true,
	"kernel.shmmni":          true,
	"kernel.shm_rmid_forced": true,
}

func validSysctlName(k string) error {
	if k == "" || strings.ContainsAny(k, "/ \x00") || strings.Contains(k, "..") ||
		strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return fmt.Errorf("sysctl %q: invalid name: %w", k, errdefs.ErrInvalidArgument)
	}
	return nil
}

// ValidateSysctls accepts only sysctls that are namespaced in the
// container's own namespaces, so that a container can never change the
// host: IPC keys with a private IPC namespace, net.* with a private network
// namespace, kernel.domainname with a private UTS namespace.
func ValidateSysctls(sysctls map[string]string, ns Namespaces) error {
	for k := range sysctls {
		if err := validSysctlName(k); err != nil {
			return err
		}
		switch {
		case namespacedSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
			if !ns.NewIPC {
				return fmt.Errorf("sysctl %q is only allowed with the container's own IPC namespace (not with ipc: host or shared): %w", k, errdefs.ErrInvalidArgument)
			}
		case strings.HasPrefix(k, "net."):
			if !ns.NewNet {
				return fmt.Errorf("sysctl %q is only allowed with the container's own network namespace (not with network_mode: host or container:…): %w", k, errdefs.ErrInvalidArgument)
			}
		case k == "kernel.domainname":
			if !ns.NewUTS {
				return fmt.Errorf("sysctl %q is only allowed with the container's own UTS namespace: %w", k, errdefs.ErrInvalidArgument)
			}
		case k == "kernel.hostname":
			return fmt.Errorf("sysctl %q is not allowed: use hostname: %w", k, errdefs.ErrInvalidArgument)
		default:
			return fmt.Errorf("sysctl %q is not namespaced: setting it would change the host, so berth refuses it: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}
