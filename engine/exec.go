package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/runtime"
	"github.com/containerd/errdefs"
)

// Exec runs opts.Cmd in the running container — its namespaces, cgroup,
// environment (plus opts.Env), user and working directory unless opts say
// otherwise, and no more privilege than the container has unless
// Privileged — and returns its exit code (126/127 as docker when it cannot
// be run). With Tty the process gets a terminal from the container's own
// devpts, resized from opts.Resize. With Detach it returns 0 once started.
func (e *Engine) Exec(ctx context.Context, id string, opts ExecOptions) (int, error) {
	rec, err := e.resolve(id)
	if err != nil {
		return 0, err
	}
	if len(opts.Cmd) == 0 {
		return 0, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	o := e.observe(rec.ID)
	if !(o.monitorAlive || o.orphan) || o.st.Status != monitor.StatusRunning || o.st.Pid == 0 {
		if o.st.Status == monitor.StatusPaused {
			return 0, fmt.Errorf("container %s is paused: unpause it first: %w", rec.Name, errdefs.ErrConflict)
		}
		return 0, fmt.Errorf("container %s is not running: %w", rec.Name, errdefs.ErrConflict)
	}
	in := &rec.Monitor.Init
	cfg := runtime.ExecConfig{
		Args: opts.Cmd, Env: mergeEnv(in.Env, opts.Env), Cwd: in.Cwd, User: in.User, GroupAdd: in.GroupAdd,
		Tty: opts.Tty, Stdout: opts.Stdout, Stderr: opts.Stderr,
		Capabilities: in.Capabilities, NoNewPrivs: in.NoNewPrivs, Seccomp: in.Seccomp,
		Privileged: in.Privileged, Rlimits: in.Rlimits, OomScoreAdj: in.OomScoreAdj,
	}
	if opts.Tty && !hasEnv(cfg.Env, "TERM") {
		cfg.Env = append(cfg.Env, "TERM=xterm")
	}
	if opts.WorkingDir != "" {
		cfg.Cwd = opts.WorkingDir
	}
	if opts.User != "" {
		cfg.User, cfg.GroupAdd = opts.User, nil
	}
	if opts.Privileged {
		cfg.Capabilities, cfg.Seccomp, cfg.Privileged, cfg.NoNewPrivs = runtime.AllCapabilities(), nil, true, false
	}
	if opts.Interactive {
		cfg.Stdin = opts.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = cfg.Stdout
	}
	if opts.Detach {
		cfg.Stdin, cfg.Stdout, cfg.Stderr = nil, nil, nil
	}
	if opts.Tty && opts.Resize != nil {
		select {
		case ws, ok := <-opts.Resize:
			if ok {
				cfg.Rows, cfg.Cols = ws.Rows, ws.Cols
			}
		default:
		}
	}
	cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID)
	if err != nil {
		return 0, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	defer cg.Close()
	if fd, err := cg.FD(); err == nil && fd > 0 {
		cfg.CgroupFD = fd
	} else {
		cfg.CgroupPaths = cg.Paths()
	}
	p, err := runtime.Exec(ctx, o.st.Pid, cfg)
	if err != nil {
		return 0, fmt.Errorf("container %s: exec %s: %w", rec.Name, opts.Cmd[0], err)
	}
	if opts.Detach {
		go func() { _, _ = p.Wait() }()
		return 0, nil
	}
	if opts.Tty && opts.Resize != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case ws, ok := <-opts.Resize:
					if !ok {
						return
					}
					_ = p.Resize(ws.Rows, ws.Cols)
				case <-done:
					return
				}
			}
		}()
	}
	code, err := p.Wait()
	if err != nil {
		return 0, fmt.Errorf("container %s: exec %s: %w", rec.Name, opts.Cmd[0], err)
	}
	return code, nil
}

// AttachOptions connect a caller to a running container's stdio.
type AttachOptions struct {
	// Stdin is copied to the container's stdin (it needs stdin_open or
	// tty); its EOF closes the container's stdin when it has no terminal.
	Stdin io.Reader
	// Stdout and Stderr receive the container's output from now on (with
	// a terminal, everything arrives on Stdout).
	Stdout, Stderr io.Writer
	// Resize delivers terminal size changes.
	Resize <-chan WinSize
	// KeepStdin leaves the container's stdin open when Stdin ends or the
	// attach goes (attach to a service's container, docker's StdinOnce
	// false); else Stdin's end closes it (run -i).
	KeepStdin bool
}

// Attach streams the running container's output to opts and opts.Stdin to
// it until the container's process ends (or ctx is done).
func (e *Engine) Attach(ctx context.Context, id string, opts AttachOptions) error {
	rec, err := e.resolve(id)
	if err != nil {
		return err
	}
	cl := monitor.NewClient(e.paths, rec.ID)
	conn, br, err := cl.Attach(ctx, monitor.Request{Stdin: opts.Stdin != nil, Stdout: opts.Stdout != nil, Stderr: opts.Stderr != nil,
		KeepStdin: opts.KeepStdin})
	if errors.Is(err, monitor.ErrNoMonitor) || errdefs.IsConflict(err) {
		// The run ended before the attach (run -i of a quick command):
		// its output is in the log.
		return e.replayLastRun(ctx, rec.ID, opts)
	}
	if err != nil {
		return fmt.Errorf("container %s: attach: %w", rec.Name, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if opts.Resize != nil {
		go func() {
			for ws := range opts.Resize {
				if _, err := cl.Do(ctx, monitor.Request{Op: "resize", Rows: ws.Rows, Cols: ws.Cols}); err != nil {
					return
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(conn, opts.Stdin)
			_ = conn.CloseWrite()
		}()
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		w := opts.Stdout
		if hdr[0] == 2 && opts.Stderr != nil {
			w = opts.Stderr
		}
		if w == nil {
			w = io.Discard
		}
		if _, err := io.CopyN(w, br, int64(n)); err != nil {
			return err
		}
	}
}

// replayLastRun writes the output of the container's last run from its log.
func (e *Engine) replayLastRun(ctx context.Context, id string, opts AttachOptions) error {
	c, err := e.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if c.State.Running {
		return fmt.Errorf("container %s: attach: its monitor is gone: %w", c.Name, errdefs.ErrUnavailable)
	}
	return e.Logs(ctx, id, LogsOptions{Tail: -1, Since: c.State.StartedAt}, func(en LogEntry) error {
		w := opts.Stdout
		if en.Stream == "stderr" && opts.Stderr != nil {
			w = opts.Stderr
		}
		if w == nil {
			return nil
		}
		line := en.Line
		if !en.Partial {
			line = append(line, '\n')
		}
		_, err := w.Write(line)
		return err
	})
}
