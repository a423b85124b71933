package runtime

import (
	"encoding/binary"
	"fmt"
	"slices"

	goruntime "runtime"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp program is assembled here, with elastic/go-seccomp-bpf's
// syscall tables (generated into syscalls_<arch>.go) and x/net/bpf's
// instruction encoder. (The library's own policy assembler leaves a syscall argument in the accumulator when a
// conditional rule does not match, so the rules after it compare that
// argument with syscall numbers: personality(8) fell through to lseek's
// rule. Each conditional block here reloads the number.)
//
// Layout, first match wins, rules in the profile's order:
//
//	ld arch; jeq native ? +1 : +0; ja default
//	ld nr; [amd64: jge X32_BIT -> ret ENOSYS]; jgt maxNr -> ret ENOSYS
//	per rule: blocks that jump to their own "ret action" on a match
//	default: ret defaultAction
//
// Unconditional names are checked in chunks so that every conditional jump
// stays within BPF's 255-instruction reach.

const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16
	x32SyscallBit   = 0x40000000
	chunkSize       = 200
)

// assembleSeccomp translates an OCI seccomp section into BPF.
func assembleSeccomp(sc *specs.LinuxSeccomp) ([]byte, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("seccomp filters are not supported on %s; use seccomp=unconfined: %w", goruntime.GOARCH, errdefs.ErrNotImplemented)
	}
	def, err := seccompAction(sc.DefaultAction, sc.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	type rule struct {
		action uint32
		names  []int
		sets   [][]specs.LinuxSeccompArg
	}
	var rules []rule
	maxNr := 0
	for _, r := range sc.Syscalls {
		action, err := seccompAction(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls %v: %w", r.Names, err)
		}
		var nrs []int
		for _, n := range r.Names {
			nr, ok := syscallNumber(n)
			if !ok || slices.Contains(nrs, nr) {
				continue // not on this architecture: libseccomp skips it too
			}
			maxNr = max(maxNr, nr)
			nrs = append(nrs, nr)
		}
		if len(nrs) > 0 {
			rules = append(rules, rule{action: action, names: nrs, sets: conditionSets(r.Args)})
		}
	}

	a := newAsm()
	deflt := a.label()
	a.emit(bpf.LoadAbsolute{Off: seccompDataArch, Size: 4})
	a.jump(bpf.JumpEqual, auditArch, a.here(1), next)
	a.ja(deflt)
	a.emit(bpf.LoadAbsolute{Off: seccompDataNr, Size: 4})
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	if goruntime.GOARCH == "amd64" {
		a.jump(bpf.JumpGreaterOrEqual, x32SyscallBit, next, a.here(1))
		a.emit(bpf.RetConstant{Val: enosys})
	}
	a.jump(bpf.JumpGreaterThan, uint32(maxNr), next, a.here(1))
	a.emit(bpf.RetConstant{Val: enosys})
	for _, r := range rules {
		if len(r.sets) == 0 {
			for c := range slices.Chunk(r.names, chunkSize) {
				act, after := a.label(), a.label()
				for _, nr := range c {
					a.jump(bpf.JumpEqual, uint32(nr), act, next)
				}
				a.ja(after)
				a.set(act)
				a.emit(bpf.RetConstant{Val: r.action})
				a.set(after)
			}
			continue
		}
		for _, nr := range r.names {
			act, after := a.label(), a.label()
			a.jump(bpf.JumpEqual, uint32(nr), next, after)
			for _, set := range r.sets {
				fail := a.label()
				for _, c := range set {
					if err := a.condition(c, fail); err != nil {
						return nil, fmt.Errorf("syscall %s: %w", syscallNameOf(nr), err)
					}
				}
				a.ja(act)
				a.set(fail)
			}
			// The comparisons loaded arguments: restore the number.
			a.emit(bpf.LoadAbsolute{Off: seccompDataNr, Size: 4})
			a.ja(after)
			a.set(act)
			a.emit(bpf.RetConstant{Val: r.action})
			a.set(after)
		}
	}
	a.set(deflt)
	a.emit(bpf.RetConstant{Val: def})
	insts, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if len(insts) > 4096 {
		return nil, fmt.Errorf("%d BPF instructions, the kernel takes 4096", len(insts))
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
func conditionSets(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	if len(args) == 0 {
		return nil
	}
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			sets := make([][]specs.LinuxSeccompArg, len(args))
			for i, a := range args {
				sets[i] = []specs.LinuxSeccompArg{a}
			}
			return sets
		}
		seen[a.Index] = true
	}
	return [][]specs.LinuxSeccompArg{args}
}

// next as a jump target means the following instruction.
const next = -1

// asm is a tiny BPF assembler with symbolic labels.
type asm struct {
	insts  []bpf.Instruction
	jumps  map[int][2]int // instruction -> true, false labels (JumpIf) or target (Jump)
	labels []int          // label -> instruction index
}

func newAsm() *asm { return &asm{jumps: map[int][2]int{}} }

func (a *asm) label() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

// here returns a label on the instruction n after the next one emitted.
func (a *asm) here(n int) int {
	l := a.label()
	a.labels[l] = len(a.insts) + 1 + n
	return l
}

func (a *asm) set(l int)                  { a.labels[l] = len(a.insts) }
func (a *asm) emit(in bpf.Instruction)    { a.insts = append(a.insts, in) }
func (a *asm) ja(l int)                   { a.jumps[len(a.insts)] = [2]int{l, next}; a.emit(bpf.Jump{}) }
func (a *asm) alu(op bpf.ALUOp, v uint32) { a.emit(bpf.ALUOpConstant{Op: op, Val: v}) }

func (a *asm) jump(cond bpf.JumpTest, val uint32, t, f int) {
	a.jumps[len(a.insts)] = [2]int{t, f}
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

func (a *asm) resolve() ([]bpf.Instruction, error) {
	for i, j := range a.jumps {
		skip := func(l int) (uint32, error) {
			if l == next {
				return 0, nil
			}
			d := a.labels[l] - i - 1
			if a.labels[l] < 0 || d < 0 {
				return 0, fmt.Errorf("seccomp assembler: bad label")
			}
			return uint32(d), nil
		}
		t, err := skip(j[0])
		if err != nil {
			return nil, err
		}
		switch in := a.insts[i].(type) {
		case bpf.Jump:
			in.Skip = t
			a.insts[i] = in
		case bpf.JumpIf:
			f, err := skip(j[1])
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("seccomp assembler: jump of %d instructions", max(t, f))
			}
			in.SkipTrue, in.SkipFalse = uint8(t), uint8(f)
			a.insts[i] = in
		}
	}
	return a.insts, nil
}

// condition emits the test of one argument: it falls through when the
// condition holds and jumps to fail otherwise. Arguments are 64 bits,
// compared as two 32-bit halves as libseccomp does.
func (a *asm) condition(c specs.LinuxSeccompArg, fail int) error {
	if c.Index > 5 {
		return fmt.Errorf("argument index %d: %w", c.Index, errdefs.ErrInvalidArgument)
	}
	hiOff, loOff := uint32(seccompDataArgs+8*c.Index), uint32(seccompDataArgs+8*c.Index)
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		hiOff += 4
	} else {
		loOff += 4
	}
	ldHi := func() { a.emit(bpf.LoadAbsolute{Off: hiOff, Size: 4}) }
	ldLo := func() { a.emit(bpf.LoadAbsolute{Off: loOff, Size: 4}) }
	v := c.Value
	hi, lo := uint32(v>>32), uint32(v)
	pass := a.label()
	switch c.Op {
	case specs.OpEqualTo:
		ldHi()
		a.jump(bpf.JumpEqual, hi, next, fail)
		ldLo()
		a.jump(bpf.JumpEqual, lo, next, fail)
	case specs.OpNotEqual:
		ldHi()
		a.jump(bpf.JumpEqual, hi, next, pass)
		ldLo()
		a.jump(bpf.JumpEqual, lo, fail, next)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		ldHi()
		a.jump(bpf.JumpGreaterThan, hi, pass, next)
		a.jump(bpf.JumpEqual, hi, next, fail)
		ldLo()
		cond := bpf.JumpGreaterThan
		if c.Op == specs.OpGreaterEqual {
			cond = bpf.JumpGreaterOrEqual
		}
		a.jump(cond, lo, next, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		ldHi()
		a.jump(bpf.JumpGreaterThan, hi, fail, next)
		a.jump(bpf.JumpEqual, hi, next, pass)
		ldLo()
		cond := bpf.JumpGreaterOrEqual
		if c.Op == specs.OpLessEqual {
			cond = bpf.JumpGreaterThan
		}
		a.jump(cond, lo, fail, next)
	case specs.OpMaskedEqual:
		// OCI: Value is the mask, ValueTwo the value.
		ldHi()
		a.alu(bpf.ALUOpAnd, hi)
		a.jump(bpf.JumpEqual, uint32(c.ValueTwo>>32), next, fail)
		ldLo()
		a.alu(bpf.ALUOpAnd, lo)
		a.jump(bpf.JumpEqual, uint32(c.ValueTwo), next, fail)
	default:
		return fmt.Errorf("operator %s is not supported: %w", c.Op, errdefs.ErrNotImplemented)
	}
	a.set(pass)
	return nil
}
