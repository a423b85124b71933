package monitor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/berthdev/berth/engine/runtime"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ParseSignal accepts "SIGTERM", "TERM", "term", "15" and docker's
// "SIGRTMIN+3"; "" is SIGTERM.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: %w", s, errdefs.ErrInvalidArgument)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN"); ok {
		off := 0
		if rest != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(rest, "+"))
			if err != nil || !strings.HasPrefix(rest, "+") {
				return 0, fmt.Errorf("invalid signal %q: %w", s, errdefs.ErrInvalidArgument)
			}
			off = n
		}
		if 34+off > 64 {
			return 0, fmt.Errorf("invalid signal %q: %w", s, errdefs.ErrInvalidArgument)
		}
		return syscall.Signal(34 + off), nil
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q: %w", s, errdefs.ErrInvalidArgument)
}

// SignalName is the signal's docker-style name ("SIGTERM").
func SignalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	if sig >= 34 && sig <= 64 {
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-34)
	}
	return "signal " + strconv.Itoa(int(sig))
}

// SignalReachesInit reports whether sig sent from the host reaches pid,
// the PID 1 of its own PID namespace. The kernel drops such a signal
// unless the process has a handler for it (runtime.HandlesSignal reads
// SigCgt and SigIgn); SIGKILL and SIGSTOP always arrive. When false, reason
// says why, as stop reports it.
func SignalReachesInit(pid int, sig syscall.Signal) (ok bool, reason string, err error) {
	ok, err = runtime.HandlesSignal(pid, sig)
	if err != nil || ok {
		return ok, "", err
	}
	return false, "PID 1 has no handler for " + SignalName(sig), nil
}

// pidStartTime is field 22 of /proc/PID/stat (start time in clock ticks
// since boot): with the pid it names one process for good.
func pidStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// comm (field 2) may contain spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ProcessAlive reports whether pid is still the process that started at
// start (clock ticks; 0 means do not check) and is not a zombie.
func ProcessAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	if start == 0 {
		return true
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && st == start
}

// PidStartTime is exported for the engine (adoption of a container whose
// monitor died).
func PidStartTime(pid int) (uint64, error) { return pidStartTime(pid) }

// bootID is the kernel's boot id ("" when unreadable).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// BootID is the current boot's id, for the engine's reboot detection.
func BootID() string { return bootID() }
