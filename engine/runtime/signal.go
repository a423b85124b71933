package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/containerd/errdefs"
)

// HandlesSignal reports whether process pid has a handler installed for sig
// (SigCgt in /proc/PID/status, and not SigIgn). The kernel drops a signal
// sent to a PID namespace's init that has no handler for it, so when this is
// false for a container's PID 1 the stop signal cannot arrive and the caller
// may kill at once instead of waiting out the grace period. SIGKILL and
// SIGSTOP always arrive from outside the namespace: true.
func HandlesSignal(pid int, sig syscall.Signal) (bool, error) {
	if sig == syscall.SIGKILL || sig == syscall.SIGSTOP {
		return true, nil
	}
	if sig < 1 || sig > 64 {
		return false, fmt.Errorf("signal %d: %w", sig, errdefs.ErrInvalidArgument)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if os.IsNotExist(err) {
			return false, fmt.Errorf("process %d: %w", pid, errdefs.ErrNotFound)
		}
		return false, err
	}
	var caught, ignored uint64
	var haveCgt bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "SigCgt":
			caught, err = strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			haveCgt = err == nil
		case "SigIgn":
			ignored, _ = strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
		}
	}
	if !haveCgt {
		return false, fmt.Errorf("process %d: no SigCgt in its status", pid)
	}
	bit := uint64(1) << (uint(sig) - 1)
	return caught&bit != 0 && ignored&bit == 0, nil
}
