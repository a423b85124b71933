package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// InitArg is the argument that makes the berth binary run Init (main
// dispatches it before anything else; tests handle it in TestMain).
const InitArg = "__init"

// StartOptions are the parent's side of a start.
type StartOptions struct {
	// Stdin, Stdout and Stderr become the process's stdio; nil means
	// /dev/null. Ignored for the process's stdio when Config.Tty is set
	// (the pty is), but still the init's until then.
	Stdin, Stdout, Stderr *os.File
	// CgroupFD, when > 0, is a cgroup v2 directory fd: the init is cloned
	// straight into it (clone3 CLONE_INTO_CGROUP).
	CgroupFD int
	// BeforeRelease runs after the clone and before the init may go on:
	// place the pid in v1 cgroups, attach networks. An error aborts the
	// start (the init is killed and reaped).
	BeforeRelease func(pid int) error
	// Self is the binary to re-exec; "" means /proc/self/exe.
	Self string
}

// Process is a started container init.
type Process struct {
	// Pid is the init's pid on the host (PID 1 of its namespace when the
	// PID namespace is new).
	Pid int
	// Console is the pty master when Config.Tty; the caller owns it.
	Console *os.File

	cmd *exec.Cmd
}

// ExitStatus is how a process ended. Code follows the shell's and docker's
// convention: the exit status, or 128+signal when killed by a signal.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal
}

// StartError is the init's report of why the user's process could not be
// started. ExitCode is what docker records for it: 127 when the executable
// is not found, 126 when it cannot be executed, 128 otherwise.
type StartError struct {
	Msg  string
	Code int
}

func (e *StartError) Error() string { return e.Msg }

// ExitCode is the exit code to record for the container.
func (e *StartError) ExitCode() int { return e.Code }

// Unwrap gives the error's kind: ErrNotFound (127), ErrPermissionDenied
// (126) or ErrFailedPrecondition.
func (e *StartError) Unwrap() error {
	switch e.Code {
	case 127:
		return errdefs.ErrNotFound
	case 126:
		return errdefs.ErrPermissionDenied
	}
	return errdefs.ErrFailedPrecondition
}

// Start clones the init with cfg's namespaces and returns once the user's
// process has been exec'd (or, with Config.Init, forked by the init), or
// with the init's error (a *StartError). On error nothing is left running.
func Start(ctx context.Context, cfg Config, opts StartOptions) (_ *Process, err error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("container %s: encode init config: %w", cfg.ID, err)
	}
	self := opts.Self
	if self == "" {
		self = "/proc/self/exe"
	}

	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, configR, configW)
	notifyR, notifyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	closers = append(closers, notifyR, notifyW)
	extra := []*os.File{configR, notifyW}
	var consoleR *os.File
	if cfg.Tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("container %s: console socket: %w", cfg.ID, err)
		}
		consoleR = os.NewFile(uintptr(fds[0]), "console-parent")
		consoleW := os.NewFile(uintptr(fds[1]), "console-child")
		closers = append(closers, consoleR, consoleW)
		extra = append(extra, consoleW)
	}

	cmd := &exec.Cmd{
		Path: self,
		Args: []string{"berth-init", InitArg},
		// One P from the start: Init needs no more, and no procresize.
		Env:        []string{"GOMAXPROCS=1"},
		Dir:        "/",
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:     true,
			Cloneflags: cloneFlags(cfg.Namespaces),
		},
	}
	if opts.Stdin != nil {
		cmd.Stdin = opts.Stdin
	}
	if opts.Stdout != nil {
		cmd.Stdout = opts.Stdout
	}
	if opts.Stderr != nil {
		cmd.Stderr = opts.Stderr
	}
	if opts.CgroupFD > 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = opts.CgroupFD
	}
	if err := startIn(cfg.Namespaces, cmd); err != nil {
		return nil, fmt.Errorf("container %s: start init: %w", cfg.ID, err)
	}
	p := &Process{Pid: cmd.Process.Pid, cmd: cmd}
	defer func() {
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	// The child has its copies; ours must go or EOF never comes.
	_ = configR.Close()
	_ = notifyW.Close()
	if len(extra) > 2 {
		_ = extra[2].Close()
	}

	if opts.BeforeRelease != nil {
		if err := opts.BeforeRelease(p.Pid); err != nil {
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	if _, err := configW.Write(data); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("container %s: send config to init: %w", cfg.ID, err)
	}
	_ = configW.Close()
	report, err := io.ReadAll(notifyR)
	if err != nil {
		return nil, fmt.Errorf("container %s: read init status: %w", cfg.ID, err)
	}
	if !stop() {
		// Cancelled: the kill is under way or done (the deferred one reaps).
		return nil, ctx.Err()
	}
	if len(report) > 0 {
		var ie initReport
		if json.Unmarshal(report, &ie) != nil || ie.Error == "" {
			ie = initReport{Error: string(report), Code: 128}
		}
		return nil, &StartError{Msg: ie.Error, Code: ie.Code}
	}
	if cfg.Tty {
		master, err := recvFD(consoleR)
		if err != nil {
			return nil, fmt.Errorf("container %s: receive pty master: %w", cfg.ID, err)
		}
		p.Console = master
	}
	return p, nil
}

// initReport is what the init writes on the exec-notify pipe when it fails.
type initReport struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

func cloneFlags(ns Namespaces) uintptr {
	flags := uintptr(unix.CLONE_NEWNS)
	if ns.NewPID {
		flags |= unix.CLONE_NEWPID
	}
	if ns.NewUTS {
		flags |= unix.CLONE_NEWUTS
	}
	if ns.NewIPC {
		flags |= unix.CLONE_NEWIPC
	}
	if ns.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	if ns.NewCgroup {
		flags |= unix.CLONE_NEWCGROUP
	}
	return flags
}

// startIn starts cmd, first joining the namespaces ns names (network, IPC,
// PID of another container) on a dedicated OS thread that is thrown away
// afterwards, so the clone inherits them and the caller's threads do not.
func startIn(ns Namespaces, cmd *exec.Cmd) error {
	type join struct {
		path string
		kind int
	}
	var joins []join
	if !ns.NewNet && ns.JoinNet != "" {
		joins = append(joins, join{ns.JoinNet, unix.CLONE_NEWNET})
	}
	if !ns.NewIPC && ns.JoinIPC != "" {
		joins = append(joins, join{ns.JoinIPC, unix.CLONE_NEWIPC})
	}
	if !ns.NewPID && ns.JoinPID != "" {
		joins = append(joins, join{ns.JoinPID, unix.CLONE_NEWPID})
	}
	if len(joins) == 0 {
		return cmd.Start()
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for _, j := range joins {
		fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", j.path, err)
		}
		fds = append(fds, fd)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's namespaces are changed, so the
		// runtime must discard it when this goroutine ends.
		goruntime.LockOSThread()
		for i, j := range joins {
			if err := unix.Setns(fds[i], j.kind); err != nil {
				errc <- fmt.Errorf("join namespace %s: %w", j.path, err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// Wait waits for the init to exit and returns its status.
func (p *Process) Wait() (ExitStatus, error) {
	err := p.cmd.Wait()
	if p.cmd.ProcessState == nil {
		return ExitStatus{}, err
	}
	return exitStatus(p.cmd.ProcessState), nil
}

// Signal sends sig to the init (through its pidfd).
func (p *Process) Signal(sig syscall.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

func exitStatus(ps *os.ProcessState) ExitStatus {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ExitStatus{Code: ps.ExitCode()}
	}
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// recvFD receives one file descriptor sent with SCM_RIGHTS on sock.
func recvFD(sock *os.File) (*os.File, error) {
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil || len(fds) == 0 {
			continue
		}
		for _, extra := range fds[1:] {
			_ = unix.Close(extra)
		}
		// Pollable, so that reads can be interrupted by Close.
		_ = unix.SetNonblock(fds[0], true)
		return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
	}
	return nil, errors.New("no descriptor in message")
}

// sendFD sends fd with SCM_RIGHTS on sock, named name.
func sendFD(sock int, name string, fd int) error {
	return unix.Sendmsg(sock, []byte(name), unix.UnixRights(fd), nil, 0)
}
