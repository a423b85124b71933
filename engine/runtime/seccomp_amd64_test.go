package runtime

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompRun evaluates prog (as Config.Seccomp carries it) on a syscall the
// way the kernel would, with x/net/bpf's VM. The VM loads big-endian words,
// so seccomp_data is laid out for it: each 64-bit argument as its low word
// then its high word (the order the little-endian program reads them).
func seccompRun(t *testing.T, prog []byte, audit uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	filters, err := decodeSeccomp(prog)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]bpf.RawInstruction, len(filters))
	for i, f := range filters {
		raw[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], audit)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[16+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

func TestSeccompDefaultProfile(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 || unix.SYS_CLONE3 != 435 {
		t.Skip("the syscall matrix is written for little-endian amd64")
	}
	prog, err := CompileSeccomp("", DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default profile: %d BPF instructions", len(prog)/8)
	const (
		x8664  = 0xc000003e
		i386   = 0x40000003
		allow  = unix.SECCOMP_RET_ALLOW
		eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	)
	tests := []struct {
		name  string
		audit uint32
		nr    int
		args  []uint64
		want  uint32
	}{
		{"write", x8664, unix.SYS_WRITE, nil, allow},
		{"chown", x8664, unix.SYS_CHOWN, nil, allow},
		{"mount", x8664, unix.SYS_MOUNT, nil, eperm},
		{"unshare", x8664, unix.SYS_UNSHARE, nil, eperm},
		{"clone fork", x8664, unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, allow},
		{"clone newns", x8664, unix.SYS_CLONE, []uint64{unix.CLONE_NEWNS | uint64(unix.SIGCHLD)}, eperm},
		{"clone newuser", x8664, unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone3 answers ENOSYS", x8664, unix.SYS_CLONE3, nil, enosys},
		{"personality query", x8664, unix.SYS_PERSONALITY, []uint64{0xffffffff}, allow},
		{"personality other", x8664, unix.SYS_PERSONALITY, []uint64{0x1234}, eperm},
		// A failed argument test must not leave the argument to be compared
		// with later rules' syscall numbers (8 is lseek, 40 is sendfile).
		{"personality 8", x8664, unix.SYS_PERSONALITY, []uint64{8}, allow},
		{"socket inet", x8664, unix.SYS_SOCKET, []uint64{unix.AF_INET}, allow},
		{"socket vsock", x8664, unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, eperm},
		{"socket alg", x8664, unix.SYS_SOCKET, []uint64{unix.AF_ALG}, eperm},
		{"clone high bits", x8664, unix.SYS_CLONE, []uint64{1<<32 | uint64(unix.SIGCHLD)}, allow},
		{"newer than the profile", x8664, 1000, nil, enosys},
		{"i386 ABI", i386, 4, nil, eperm},
		{"x32 ABI", x8664, 0x40000000 | 1, nil, enosys},
	}
	for _, tc := range tests {
		if got := seccompRun(t, prog, tc.audit, tc.nr, tc.args...); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
	// CAP_SYS_ADMIN in the set lets the profile allow mount and unshare.
	prog, err = CompileSeccomp("", append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	if got := seccompRun(t, prog, x8664, unix.SYS_MOUNT); got != allow {
		t.Errorf("mount with CAP_SYS_ADMIN: %#x", got)
	}
	if prog, err := CompileSeccomp(SeccompUnconfined, nil); err != nil || prog != nil {
		t.Errorf("unconfined: %v %v", prog, err)
	}
}

func TestSeccompProfileFile(t *testing.T) {
	if unix.SYS_CLONE3 != 435 {
		t.Skip("the syscall matrix is written for amd64")
	}
	p := filepath.Join(t.TempDir(), "profile.json")
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
		{"names":["no_such_syscall"],"action":"SCMP_ACT_KILL"}]}`
	if err := os.WriteFile(p, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, err := CompileSeccomp(p, DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if got := seccompRun(t, prog, 0xc000003e, unix.SYS_MKDIRAT); got != unix.SECCOMP_RET_ERRNO|uint32(unix.EACCES) {
		t.Errorf("mkdirat: %#x", got)
	}
	if got := seccompRun(t, prog, 0xc000003e, unix.SYS_WRITE); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("write: %#x", got)
	}

	// Operators, on a deny-by-default profile.
	profile = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
		{"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":65280,"valueTwo":21504,"op":"SCMP_CMP_MASKED_EQ"}]},
		{"names":["kill"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":10,"op":"SCMP_CMP_LT"}]},
		{"names":["tkill"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":10,"op":"SCMP_CMP_GE"},{"index":0,"value":4294967296,"op":"SCMP_CMP_LE"}]},
		{"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
		{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":0,"op":"SCMP_CMP_NE"}]}]}`
	must(t, os.WriteFile(p, []byte(profile), 0o644))
	prog, err = CompileSeccomp(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	const allow, eperm = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	for _, tc := range []struct {
		nr   int
		args []uint64
		want uint32
	}{
		{unix.SYS_IOCTL, []uint64{3, 0x5401}, allow},
		{unix.SYS_IOCTL, []uint64{3, 0x8901}, eperm},
		{unix.SYS_KILL, []uint64{1, 9}, allow},
		{unix.SYS_KILL, []uint64{1, 15}, eperm},
		{unix.SYS_KILL, []uint64{1, 1 << 32}, eperm},
		{unix.SYS_TKILL, []uint64{1 << 32, 15}, allow},
		{unix.SYS_TKILL, []uint64{1<<32 + 1, 15}, eperm},
		{unix.SYS_TKILL, []uint64{1, 9}, eperm},
		{unix.SYS_WRITE, []uint64{1}, allow},
		{unix.SYS_WRITE, []uint64{2}, allow},
		{unix.SYS_WRITE, []uint64{3}, eperm},
		{unix.SYS_READ, []uint64{0, 0, 1 << 33}, allow},
		{unix.SYS_READ, []uint64{0, 0, 0}, eperm},
	} {
		if got := seccompRun(t, prog, 0xc000003e, tc.nr, tc.args...); got != tc.want {
			t.Errorf("syscall %d %v: %#x, want %#x", tc.nr, tc.args, got, tc.want)
		}
	}

	if _, err := CompileSeccomp(filepath.Join(t.TempDir(), "missing.json"), nil); err == nil {
		t.Error("missing profile file: no error")
	}
}
