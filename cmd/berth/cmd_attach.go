package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/scheduler"
)

// defaultDetachKeys are docker's: Ctrl-P then Ctrl-Q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

type attachOptions struct {
	index            int
	detachKeys       string
	noStdin, sigProx bool
}

// newAttachCommand is docker compose's `attach`: the terminal's standard
// streams are connected to a running container of a service until its
// process ends (the exit code is its) or the detach keys are typed.
func (c *cli) newAttachCommand() *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] SERVICE",
		Short: "Attach local standard input, output, and error streams to a service's running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runAttach(cmd.Context(), args[0], o)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas.")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching from a container.")
	f.BoolVar(&o.noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&o.sigProx, "sig-proxy", true, "Proxy all received signals to the process")
	return cmd
}

func (c *cli) runAttach(ctx context.Context, service string, o attachOptions) error {
	keys := o.detachKeys
	if keys == "" {
		keys = defaultDetachKeys
	}
	seq, err := parseDetachKeys(keys)
	if err != nil {
		return err
	}
	name, b, err := c.projectBackend(ctx, "Running")
	if err != nil {
		return err
	}
	b.Close() // attach shows no progress
	if o.sigProx {
		// Ctrl-C and SIGTERM go on to the container (below) and do not end
		// the attach: its process's exit does, or the detach keys.
		// Without --sig-proxy they detach, as docker's.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, detach := context.WithCancel(ctx)
	defer detach()
	restore := func() {}
	defer func() { restore() }()
	opts := scheduler.AttachOptions{Service: service, Index: o.index, Stdout: c.stdout, Stderr: c.stderr}
	if !o.noStdin {
		opts.Stdin = &escapeReader{r: c.stdin, keys: seq, onEscape: detach}
	}
	opts.OnAttach = func(tty bool) <-chan scheduler.WinSize {
		if !tty || !display.IsTerminal(c.stdout) || !isTerminalReader(c.stdin) {
			return nil
		}
		var resize <-chan scheduler.WinSize
		restore, resize = rawTerminal(c.stdin, c.stdout)
		return resize
	}
	if o.sigProx {
		// Without a terminal in raw mode, Ctrl-C reaches berth as SIGINT:
		// it goes on to the container, as docker's --sig-proxy does.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		names := make(chan string, 4)
		go func() {
			for {
				select {
				case s := <-sigs:
					names <- unix.SignalName(s.(syscall.Signal))
				case <-ctx.Done():
					return
				}
			}
		}()
		opts.Signals = names
	}
	return exitStatus(b.Attach(ctx, name, opts))
}

// parseDetachKeys reads docker's detach key syntax: a comma-separated
// sequence of letters and ctrl-<key> (ctrl-a … ctrl-z, ctrl-@, ctrl-[,
// ctrl-\, ctrl-], ctrl-^, ctrl-_).
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1 && k[0] >= 0x20 && k[0] < 0x7f:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				out = append(out, c-'@')
			default:
				return nil, invalidArgument("invalid detach keys %q: unknown key %q (use e.g. ctrl-p,ctrl-q)", s, k)
			}
		default:
			return nil, invalidArgument("invalid detach keys %q: unknown key %q (use e.g. ctrl-p,ctrl-q)", s, k)
		}
	}
	return out, nil
}

// errDetached ends the input once the detach keys were read.
var errDetached = errors.New("read escape sequence")

// escapeReader passes r through until the detach key sequence appears in
// it: then it calls onEscape and its input ends (the keys themselves and
// anything after them are not passed on). The bytes of a partial match
// are held back until the sequence is broken.
type escapeReader struct {
	r        io.Reader
	keys     []byte
	onEscape func()

	held, pending []byte
	buf           [4096]byte
	done          bool
	err           error
}

func (e *escapeReader) Read(p []byte) (int, error) {
	for len(e.pending) == 0 {
		switch {
		case e.done:
			return 0, errDetached
		case e.err != nil:
			return 0, e.err
		}
		n, err := e.r.Read(e.buf[:])
		for _, c := range e.buf[:n] {
			if e.scan(c) {
				break
			}
		}
		if err != nil && !e.done {
			e.pending, e.held = append(e.pending, e.held...), nil
			e.err = err
		}
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	return n, nil
}

// scan takes one input byte and reports whether the sequence is complete.
func (e *escapeReader) scan(c byte) bool {
	if c != e.keys[len(e.held)] {
		if len(e.held) == 0 {
			e.pending = append(e.pending, c)
			return false
		}
		e.pending, e.held = append(e.pending, e.held...), e.held[:0]
		return e.scan(c)
	}
	e.held = append(e.held, c)
	if len(e.held) < len(e.keys) {
		return false
	}
	e.held, e.done = nil, true
	e.onEscape()
	return true
}
