package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// ExecConfig is a process to start in a running container. The caller
// passes the container's settings (Env merged with exec -e, its User unless
// -u, its WorkingDir unless -w, and its Capabilities, NoNewPrivs, Seccomp,
// Rlimits) so that the process gets no more privilege than the container.
type ExecConfig struct {
	Args []string
	Env  []string
	// Cwd is the working directory in the container ("" means "/").
	Cwd string
	// User is "user[:group]", resolved in the container's /etc/passwd and
	// /etc/group ("" means root); GroupAdd are the container's group_add.
	User     string
	GroupAdd []string
	// Tty gives the process a terminal from the container's devpts; Rows
	// and Cols, when set, are its initial size.
	Tty        bool
	Rows, Cols uint16
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	// CgroupFD is the container's cgroup v2 directory (> 0); the process
	// is born in it (clone3 CLONE_INTO_CGROUP) or, when a seccomp filter
	// forbids clone3, placed in it before it runs.
	CgroupFD int
	// CgroupPaths are the container's v1 cgroup directories; the process
	// is placed in each before it runs its first instruction.
	CgroupPaths  map[string]string
	Capabilities []string
	NoNewPrivs   bool
	Seccomp      []byte
	Privileged   bool
	Rlimits      []Rlimit
	OomScoreAdj  *int
}

// ExecProcess is a process started by Exec.
type ExecProcess struct {
	// Pid is the process's pid on the host.
	Pid int

	cmd     *exec.Cmd
	console *os.File
	copied  chan struct{}
	once    sync.Once
	code    int
	err     error
}

const execNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Exec starts cfg.Args in the namespaces of the running container whose
// init is pid, without any agent inside it: it works whatever the
// container's PID 1 is. It returns once the process has exec'd; a missing
// executable is a *StartError with code 127 as docker reports it.
func Exec(ctx context.Context, pid int, cfg ExecConfig) (_ *ExecProcess, err error) {
	if len(cfg.Args) == 0 {
		return nil, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("exec: container process %d is not running: %w", pid, errdefs.ErrFailedPrecondition)
		}
		return nil, fmt.Errorf("exec: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)

	// Host paths first: after setns they would resolve in the container.
	pl, err := openPlacement(cfg)
	if err != nil {
		return nil, err
	}
	defer pl.close()

	type result struct {
		p   *ExecProcess
		err error
	}
	resc := make(chan result, 1)
	go func() {
		// Never unlocked: this thread enters the container and takes its
		// restrictions; the runtime discards it when the goroutine ends.
		goruntime.LockOSThread()
		p, err := execOnThread(pidfd, cfg, pl)
		resc <- result{p, err}
	}()
	res := <-resc
	if res.err != nil {
		return nil, res.err
	}
	return res.p, nil
}

// placement is what must be done to the new process before it runs: its
// cgroups, rlimits and oom_score_adj, through host descriptors.
type placement struct {
	procs    []*os.File // cgroup.procs files
	procDir  *os.File   // the host's /proc
	useCgFD  int        // v2 dir for CLONE_INTO_CGROUP, or 0
	rlimits  []Rlimit
	oomScore *int
	// uid and gid are the process's, for prlimit without CAP_SYS_RESOURCE.
	uid, gid uint32
}

func (p *placement) needed() bool {
	return len(p.procs) > 0 || len(p.rlimits) > 0 || p.oomScore != nil
}

func (p *placement) close() {
	for _, f := range p.procs {
		_ = f.Close()
	}
	if p.procDir != nil {
		_ = p.procDir.Close()
	}
}

func openPlacement(cfg ExecConfig) (pl *placement, err error) {
	pl = &placement{rlimits: cfg.Rlimits, oomScore: cfg.OomScoreAdj}
	defer func() {
		if err != nil {
			pl.close()
		}
	}()
	for sub, dir := range cfg.CgroupPaths {
		f, err := os.OpenFile(dir+"/cgroup.procs", os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("exec: cgroup %s: %w", sub, err)
		}
		pl.procs = append(pl.procs, f)
	}
	if cfg.CgroupFD > 0 {
		if len(cfg.Seccomp) == 0 || cfg.Privileged {
			pl.useCgFD = cfg.CgroupFD
		} else {
			// The container's filter answers clone3 with ENOSYS, and the
			// forking thread carries it: place the stopped child instead.
			fd, err := unix.Openat(cfg.CgroupFD, "cgroup.procs", unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, fmt.Errorf("exec: cgroup v2 cgroup.procs: %w", err)
			}
			pl.procs = append(pl.procs, os.NewFile(uintptr(fd), "cgroup.procs"))
		}
	}
	if pl.oomScore != nil {
		if pl.procDir, err = os.Open("/proc"); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// The main goroutine keeps the main thread for the process's life.
//
// Exec (and Start's namespace joins, and the engine's view of a stopped
// container) taint the thread they run on and end it by exiting locked.
// Go cannot end a process's main thread: it parks it for good instead,
// still in the container's namespaces, and the process's /proc/self (the
// main thread's: mountinfo, ns/*, root) then describes the container
// (found as a phantom mount leak in cp's tests). Locked to the main
// goroutine from the start, the main thread never runs anything else.
func init() { goruntime.LockOSThread() }

// execOnThread runs on a locked thread that it taints for good.
func execOnThread(pidfd int, cfg ExecConfig, pl *placement) (_ *ExecProcess, err error) {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, fmt.Errorf("exec: unshare CLONE_FS: %w", err)
	}
	// The umask lives in the fs_struct this thread now has alone: docker's
	// 022 for the process, whatever the caller's is.
	unix.Umask(0o022)
	if err := unix.Setns(pidfd, execNamespaces); err != nil {
		return nil, fmt.Errorf("exec: enter the container's namespaces: %w", err)
	}
	// From here paths are the container's.
	uid, gid, groups, home, err := ResolveUser("/", cfg.User, cfg.GroupAdd)
	if err != nil {
		return nil, &StartError{Msg: err.Error(), Code: 126}
	}
	pl.uid, pl.gid = uid, gid
	env := withHome(cfg.Env, home)
	path, err := lookPath(cfg.Args, env)
	if err != nil {
		return nil, startError(err)
	}
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
		if err == nil {
			err = unix.ENOTDIR
		}
		return nil, &StartError{Msg: fmt.Sprintf("chdir to working directory %q: %v", cwd, err), Code: 126}
	}
	newCmd := func() *exec.Cmd {
		return &exec.Cmd{
			Path:      path,
			Args:      cfg.Args,
			Env:       env,
			Dir:       cwd,
			WaitDelay: 250 * time.Millisecond,
			SysProcAttr: &syscall.SysProcAttr{
				Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups},
			},
		}
	}
	cmd := newCmd()
	var console, slave *os.File
	if cfg.Tty {
		m, s, err := openPty()
		if err != nil {
			return nil, fmt.Errorf("exec: allocate a terminal: %w", err)
		}
		// Non-blocking, so that Close interrupts a pending read.
		_ = unix.SetNonblock(m, true)
		console, slave = os.NewFile(uintptr(m), "pty-master"), os.NewFile(uintptr(s), "pty-slave")
		defer slave.Close()
		defer func() {
			if err != nil {
				console.Close()
			}
		}()
		if uid != 0 {
			_ = unix.Fchown(s, int(uid), -1)
		}
		if cfg.Rows > 0 && cfg.Cols > 0 {
			_ = unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: cfg.Rows, Col: cfg.Cols})
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = cfg.Stdin, cfg.Stdout, cfg.Stderr
	}
	if pl.useCgFD > 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = pl.useCgFD
	}

	// The forked child runs berth's code in the container's PID namespace
	// until execve: nothing there may ptrace it or open its exe. (The flag
	// is the whole process's; execve resets it for the child.)
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	if !cfg.Privileged {
		if err := restrictThread(cfg); err != nil {
			return nil, err
		}
	}
	stop := pl.needed()
	cmd.SysProcAttr.Ptrace = stop
	err = cmd.Start()
	if err != nil && stop && errors.Is(err, unix.EPERM) {
		// A filter or LSM forbids ptrace: place it right after start.
		retry := newCmd()
		retry.Stdin, retry.Stdout, retry.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
		retry.SysProcAttr.Setsid, retry.SysProcAttr.Setctty = cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty
		retry.SysProcAttr.UseCgroupFD, retry.SysProcAttr.CgroupFD = cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD
		cmd, stop = retry, false
		err = cmd.Start()
		if err == nil {
			err = pl.apply(cmd.Process.Pid)
		}
	}
	if err != nil {
		return nil, startError(execError(cfg.Args[0], err))
	}
	p := &ExecProcess{Pid: cmd.Process.Pid, cmd: cmd, console: console}
	if stop {
		if err := releaseStopped(p.Pid, pl); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, err
		}
	}
	if console != nil {
		p.copied = make(chan struct{})
		go func() {
			defer close(p.copied)
			if cfg.Stdout != nil {
				_, _ = io.Copy(cfg.Stdout, console)
			} else {
				_, _ = io.Copy(io.Discard, console)
			}
		}()
		if cfg.Stdin != nil {
			go func() { _, _ = io.Copy(console, cfg.Stdin) }()
		}
	}
	return p, nil
}

// restrictThread gives the calling thread the container's bounding set,
// no_new_privs and seccomp filter; the child inherits them.
func restrictThread(cfg ExecConfig) error {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	caps.Clear(capability.BOUNDING)
	for _, n := range cfg.Capabilities {
		c, ok := capByName(n)
		if !ok {
			return fmt.Errorf("exec: unknown capability %q: %w", n, errdefs.ErrInvalidArgument)
		}
		caps.Set(capability.BOUNDING, c)
	}
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("exec: capability bounding set: %w", err)
	}
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("exec: no_new_privs: %w", err)
		}
	}
	if err := loadSeccomp(cfg.Seccomp); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// releaseStopped waits for the child's stop at execve (PTRACE_TRACEME),
// places it and lets it go.
func releaseStopped(pid int, pl *placement) error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("exec: wait for the process to stop at exec: %w", err)
		}
		break
	}
	if !ws.Stopped() {
		return fmt.Errorf("exec: process ended before it was placed (status %v)", ws)
	}
	perr := pl.apply(pid)
	if err := unix.PtraceDetach(pid); err != nil {
		return fmt.Errorf("exec: release the process: %w", err)
	}
	return perr
}

func (pl *placement) apply(pid int) error {
	s := []byte(strconv.Itoa(pid))
	for _, f := range pl.procs {
		if _, err := f.Write(s); err != nil {
			return fmt.Errorf("exec: place process in cgroup %s: %w", f.Name(), err)
		}
	}
	if pl.oomScore != nil {
		fd, err := unix.Openat(int(pl.procDir.Fd()), strconv.Itoa(pid)+"/oom_score_adj", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("exec: oom_score_adj: %w", err)
		}
		_, err = unix.Write(fd, []byte(strconv.Itoa(*pl.oomScore)))
		_ = unix.Close(fd)
		if err != nil {
			return fmt.Errorf("exec: oom_score_adj: %w", err)
		}
	}
	switched := false
	for _, l := range pl.rlimits {
		res, name, ok := rlimitType(l.Type)
		if !ok {
			continue
		}
		lim := &unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		err := unix.Prlimit(pid, res, lim, nil)
		if errors.Is(err, unix.EPERM) && !switched {
			// Without CAP_SYS_RESOURCE only a process with the same ids
			// may change another's limits: take them on this thread (it
			// is thrown away afterwards; raw syscalls, not Go's
			// all-threads ones).
			if err = switchThreadIDs(pl.uid, pl.gid); err == nil {
				switched = true
				err = unix.Prlimit(pid, res, lim, nil)
			}
		}
		if err != nil {
			return fmt.Errorf("exec: ulimit %s: %w", name, err)
		}
	}
	return nil
}

func switchThreadIDs(uid, gid uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return e
	}
	return nil
}

func startError(err error) error {
	var ce *codedError
	if errors.As(err, &ce) {
		return &StartError{Msg: err.Error(), Code: ce.code}
	}
	return err
}

// Wait waits for the process and returns its exit code (128+signal when
// killed by a signal), after its output has been copied.
func (p *ExecProcess) Wait() (int, error) {
	p.once.Do(func() {
		err := p.cmd.Wait()
		if p.cmd.ProcessState == nil {
			p.err = err
			return
		}
		p.code = exitStatus(p.cmd.ProcessState).Code
		if p.console != nil {
			// Output still buffered in the pty drains now; a background
			// process keeping the terminal open does not hold us.
			t := time.AfterFunc(250*time.Millisecond, func() { _ = p.console.Close() })
			<-p.copied
			t.Stop()
			_ = p.console.Close()
		}
	})
	return p.code, p.err
}

// Resize sets the terminal's size (no-op without a terminal).
func (p *ExecProcess) Resize(rows, cols uint16) error {
	if p.console == nil {
		return nil
	}
	return setWinsize(p.console, rows, cols)
}

// Signal sends sig to the process.
func (p *ExecProcess) Signal(sig syscall.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// setWinsize sets a pty's window size without putting the file in blocking
// mode (as Fd would).
func setWinsize(f *os.File, rows, cols uint16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ierr
}
