//go:build !amd64 && !arm64

package runtime

// No syscall table for this architecture: CompileSeccomp reports that
// seccomp filters are not supported here (use seccomp=unconfined).
const auditArch = 0

var syscallsByName [0]syscallName
