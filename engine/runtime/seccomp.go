package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"unsafe"

	"github.com/containerd/errdefs"
	bpfseccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// SeccompUnconfined is the profile name that disables the filter.
const SeccompUnconfined = "unconfined"

// CompileSeccomp compiles a seccomp profile into the raw BPF program that
// Config.Seccomp carries: profile "" is docker's default profile (moby's,
// resolved for caps and this kernel), "unconfined" gives nil (no filter),
// anything else is the path of a JSON profile file in docker's format.
//
// The compiler is pure Go (elastic/go-seccomp-bpf). Differences from
// docker's libseccomp filter, on purpose: syscall names this architecture
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

var seccompOps = map[specs.LinuxSeccompOperator]bpfseccomp.Operation{
	specs.OpEqualTo:      bpfseccomp.Equal,
	specs.OpNotEqual:     bpfseccomp.NotEqual,
	specs.OpLessThan:     bpfseccomp.LessThan,
	specs.OpLessEqual:    bpfseccomp.LessOrEqual,
	specs.OpGreaterThan:  bpfseccomp.GreaterThan,
	specs.OpGreaterEqual: bpfseccomp.GreaterOrEqual,
}

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (bpfseccomp.Action, error) {
	switch a {
	case specs.ActAllow:
		return bpfseccomp.ActionAllow, nil
	case specs.ActErrno:
		if errno == nil || *errno == uint(unix.EPERM) {
			return bpfseccomp.ActionErrno, nil
		}
		return bpfseccomp.ActionErrno | bpfseccomp.Action(*errno&0xffff), nil
	case specs.ActKill, specs.ActKillThread:
		return bpfseccomp.ActionKillThread, nil
	case specs.ActKillProcess:
		return bpfseccomp.ActionKillProcess, nil
	case specs.ActTrap:
		return bpfseccomp.ActionTrap, nil
	case specs.ActLog:
		return bpfseccomp.ActionLog, nil
	}
	return 0, fmt.Errorf("action %s is not supported: %w", a, errdefs.ErrNotImplemented)
}

// assembleSeccomp translates an OCI seccomp section into BPF.
func assembleSeccomp(sc *specs.LinuxSeccomp) ([]byte, error) {
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	def, err := seccompAction(sc.DefaultAction, sc.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	policy := bpfseccomp.Policy{DefaultAction: bpfseccomp.ActionErrno}
	maxNr := 0
	for _, rule := range sc.Syscalls {
		action, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls %v: %w", rule.Names, err)
		}
		var names []string
		for _, n := range rule.Names {
			nr, ok := native.SyscallNames[n]
			if !ok || slices.Contains(names, n) {
				continue // not on this architecture, as libseccomp
			}
			maxNr = max(maxNr, nr)
			names = append(names, n)
		}
		if len(names) == 0 {
			continue
		}
		g := bpfseccomp.SyscallGroup{Action: action}
		if len(rule.Args) == 0 {
			g.Names = names
		} else {
			sets, err := conditionSets(rule.Args)
			if err != nil {
				return nil, fmt.Errorf("syscalls %v: %w", rule.Names, err)
			}
			for _, n := range names {
				for _, set := range sets {
					g.NamesWithCondtions = append(g.NamesWithCondtions, bpfseccomp.NameWithConditions{Name: n, Conditions: set})
				}
			}
		}
		policy.Syscalls = append(policy.Syscalls, g)
	}
	if len(policy.Syscalls) == 0 {
		// Nothing but the default action.
		policy.Syscalls = []bpfseccomp.SyscallGroup{{Names: []string{"exit_group"}, Action: def}}
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, err
	}
	insts, err = patchSeccomp(insts, def, uint32(maxNr))
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)*8)
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// conditionSets turns a rule's arguments into sets of conditions that are
// ORed: libseccomp and runc AND conditions on different arguments, but
// several conditions on the same argument become separate rules.
func conditionSets(args []specs.LinuxSeccompArg) ([]bpfseccomp.ArgumentConditions, error) {
	var conds bpfseccomp.ArgumentConditions
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		c := bpfseccomp.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch {
		case a.Op == specs.OpMaskedEqual && a.ValueTwo == 0:
			c.Operation = bpfseccomp.BitsNotSet
		case a.Op == specs.OpMaskedEqual:
			return nil, fmt.Errorf("SCMP_CMP_MASKED_EQ with a non-zero value is not supported: %w", errdefs.ErrNotImplemented)
		default:
			op, ok := seccompOps[a.Op]
			if !ok {
				return nil, fmt.Errorf("operator %s is not supported: %w", a.Op, errdefs.ErrNotImplemented)
			}
			c.Operation = op
		}
		if seen[a.Index] {
			repeated = true
		}
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !repeated {
		return []bpfseccomp.ArgumentConditions{conds}, nil
	}
	sets := make([]bpfseccomp.ArgumentConditions, len(conds))
	for i, c := range conds {
		sets[i] = bpfseccomp.ArgumentConditions{c}
	}
	return sets, nil
}

// patchSeccomp adds the ENOSYS stub after the syscall-number load (so that
// syscalls newer than the profile fail like on an older kernel) and sets the
// default action, which the library only allows to be a plain action.
//
// The library's program starts with: load arch; jump to the final return if
// the arch is not native (one JumpIf, or JumpIf+Jump for long programs);
// load nr; the rest. Its last instruction returns the default action.
func patchSeccomp(insts []bpf.Instruction, def bpfseccomp.Action, maxNr uint32) ([]bpf.Instruction, error) {
	loadNr := -1
	for i, in := range insts[:min(4, len(insts))] {
		if la, ok := in.(bpf.LoadAbsolute); ok && la.Off == 0 && i > 0 {
			loadNr = i
			break
		}
	}
	if loadNr < 0 {
		return nil, fmt.Errorf("unexpected seccomp program layout")
	}
	// Lengthen the jump over the program by the two instructions added.
	switch j := insts[1].(type) {
	case bpf.JumpIf:
		if loadNr == 2 {
			if int(j.SkipTrue)+2 > 255 {
				insts = slices.Replace(insts, 1, 2,
					bpf.Instruction(bpf.JumpIf{Cond: bpf.JumpEqual, Val: j.Val, SkipTrue: 1}),
					bpf.Instruction(bpf.Jump{Skip: uint32(j.SkipTrue) + 2}))
				loadNr = 3
			} else {
				j.SkipTrue += 2
				insts[1] = j
			}
		} else {
			jmp, ok := insts[2].(bpf.Jump)
			if !ok {
				return nil, fmt.Errorf("unexpected seccomp program layout")
			}
			jmp.Skip += 2
			insts[2] = jmp
		}
	default:
		return nil, fmt.Errorf("unexpected seccomp program layout")
	}
	enosys := uint32(bpfseccomp.ActionErrno) | uint32(unix.ENOSYS)
	insts = slices.Insert(insts, loadNr+1,
		bpf.Instruction(bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: maxNr, SkipFalse: 1}),
		bpf.Instruction(bpf.RetConstant{Val: enosys}))
	last := len(insts) - 1
	if _, ok := insts[last].(bpf.RetConstant); !ok {
		return nil, fmt.Errorf("unexpected seccomp program layout")
	}
	if def == bpfseccomp.ActionErrno {
		def |= bpfseccomp.Action(unix.EPERM)
	}
	insts[last] = bpf.RetConstant{Val: uint32(def)}
	return insts, nil
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
