package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"github.com/containerd/errdefs"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SeccompUnconfined is the profile name that disables the filter.
const SeccompUnconfined = "unconfined"

// CompileSeccomp compiles a seccomp profile into the raw BPF program that
// Config.Seccomp carries: profile "" is docker's default profile (moby's,
// resolved for caps and this kernel), "unconfined" gives nil (no filter),
// anything else is the path of a JSON profile file in docker's format.
//
// The compiler is pure Go (see seccomp_bpf.go). Differences from docker's
// libseccomp filter, on purpose: syscall names this architecture
// does not have are skipped (libseccomp does the same); syscalls numbered
// above the highest one the profile names return ENOSYS, not the default
// action, so that libcs fall back from syscalls newer than the profile
// (runc does this too); non-native ABIs (i386 binaries on amd64) get the
// default action for every syscall.
func CompileSeccomp(profile string, caps []string) ([]byte, error) {
	if profile == SeccompUnconfined {
		return nil, nil
	}
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}}}
	var sc *specs.LinuxSeccomp
	var err error
	if profile == "" {
		sc, err = mobyseccomp.GetDefaultProfile(rs)
	} else {
		var body []byte
		body, err = os.ReadFile(profile)
		if err != nil {
			return nil, fmt.Errorf("seccomp profile: %w", err)
		}
		sc, err = mobyseccomp.LoadProfile(string(body), rs)
	}
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %w", profile, err)
	}
	if sc == nil {
		return nil, nil
	}
	prog, err := assembleSeccomp(sc)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %w", profileName(profile), err)
	}
	return prog, nil
}

func profileName(p string) string {
	if p == "" {
		return "default"
	}
	return p
}

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		e := uint(unix.EPERM)
		if errno != nil {
			e = *errno
		}
		return unix.SECCOMP_RET_ERRNO | uint32(e&unix.SECCOMP_RET_DATA), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	}
	return 0, fmt.Errorf("action %s is not supported: %w", a, errdefs.ErrNotImplemented)
}

// loadSeccomp installs prog (raw sock_filter array) on the calling thread.
// The caller holds CAP_SYS_ADMIN or has set no_new_privs.
func loadSeccomp(prog []byte) error {
	if len(prog) == 0 {
		return nil
	}
	filters, err := decodeSeccomp(prog)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	return nil
}

func decodeSeccomp(prog []byte) ([]unix.SockFilter, error) {
	if len(prog)%8 != 0 || len(prog)/8 > 4096 {
		return nil, fmt.Errorf("seccomp program of %d bytes is not a sock_filter array", len(prog))
	}
	filters := make([]unix.SockFilter, len(prog)/8)
	for i := range filters {
		b := prog[i*8:]
		filters[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return filters, nil
}
