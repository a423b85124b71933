package runtime

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// notForwarded are the signals the minimal init keeps for itself: SIGCHLD
// drives reaping, SIGURG is the Go runtime's preemption signal, and the
// synchronous ones concern the init alone (tini's list).
var notForwarded = map[syscall.Signal]bool{
	unix.SIGCHLD: true, unix.SIGURG: true,
	unix.SIGFPE: true, unix.SIGILL: true, unix.SIGSEGV: true, unix.SIGBUS: true,
	unix.SIGABRT: true, unix.SIGTRAP: true, unix.SIGSYS: true,
	unix.SIGTTIN: true, unix.SIGTTOU: true,
}

// reaper is compose's `init: true`: the init forks the user's process (it
// already runs with the user's credentials, capabilities and seccomp filter,
// like docker-init), forwards every signal to it, reaps every zombie in the
// namespace and exits with the process's status. It returns only if the
// process cannot be started.
func reaper(path string, args, env []string, tty bool) error {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if tty {
		// Its own process group in the terminal's foreground, so ^C
		// reaches it once, from the terminal.
		attr.Sys = &syscall.SysProcAttr{Foreground: true, Ctty: 0}
	}
	pid, err := syscall.ForkExec(path, args, attr)
	if err != nil {
		signal.Reset()
		return execError(args[0], err)
	}
	// The process runs: the parent's EOF on the notify pipe says so.
	_ = unix.Close(notifyFD)
	for {
		if code, done := reap(pid); done {
			os.Exit(code)
		}
		s := (<-sigs).(syscall.Signal)
		if notForwarded[s] {
			continue
		}
		_ = unix.Kill(pid, s)
	}
}

// reap collects every exited child; done reports the main process's end.
func reap(main int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid != main {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}
