package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// The control protocol: a client connects to ctl.sock, writes one Request
// as a JSON line and reads one Response as a JSON line. "attach" then turns
// the connection into a stream (see Attach). Both sides carry Version; a
// monitor refuses a request of another version with an error naming both.
//
//	op        request fields            response, when
//	stop      signal, timeout_ms        once the container has stopped for good: killed, reason, exit_code
//	kill      signal                    once the signal is sent
//	pause     -                         once frozen
//	unpause   -                         once thawed
//	wait      -                         once the container has stopped for good: exit_code
//	state     -                         at once: state
//	resize    rows, cols                at once (tty containers)
//	attach    stdin, stdout, stderr,    at once, then frames (see Attach)
//	          keep_stdin

// Request is one control request.
type Request struct {
	Version int    `json:"v"`
	Op      string `json:"op"`
	Signal  string `json:"signal,omitempty"`
	// TimeoutMs is stop's grace period: < 0 wait forever, nil the config's.
	TimeoutMs *int64 `json:"timeout_ms,omitempty"`
	Rows      uint16 `json:"rows,omitempty"`
	Cols      uint16 `json:"cols,omitempty"`
	Stdin     bool   `json:"stdin,omitempty"`
	Stdout    bool   `json:"stdout,omitempty"`
	Stderr    bool   `json:"stderr,omitempty"`
	// KeepStdin: the attach's end leaves the process's stdin open for the
	// next one (docker's StdinOnce false, as for a service's container);
	// else it closes it (run -i).
	KeepStdin bool `json:"keep_stdin,omitempty"`
}

// Response is the answer to a Request.
type Response struct {
	Version  int    `json:"v"`
	Error    string `json:"error,omitempty"`
	Kind     string `json:"kind,omitempty"` // errdefs kind of Error
	Killed   bool   `json:"killed,omitempty"`
	Reason   string `json:"reason,omitempty"`
	ExitCode int    `json:"exit_code"`
	State    *State `json:"state,omitempty"`
}

// Client talks to one container's monitor.
type Client struct {
	dir string
}

// NewClient returns a client for container id's monitor.
func NewClient(p state.Paths, id string) *Client {
	return &Client{dir: p.ContainerRun(id)}
}

// shortPath works around the 108-byte limit of socket paths: the socket is
// reached through an O_PATH descriptor of its directory. It returns the
// short path and the descriptor to close once bound or connected.
func shortPath(dir, name string) (string, func(), error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name, func() { _ = unix.Close(fd) }, nil
}

// ErrNoMonitor is returned when the container has no live monitor.
var ErrNoMonitor = fmt.Errorf("container has no running monitor: %w", errdefs.ErrUnavailable)

// Do sends req and waits for the response (until ctx is done).
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	resp, err := roundTrip(conn, bufio.NewReader(conn), req)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}

func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	sock, done, err := shortPath(c.dir, SocketFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoMonitor
		}
		return nil, err
	}
	defer done()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ctx.Err() == nil {
			return nil, ErrNoMonitor
		}
		return nil, err
	}
	return conn.(*net.UnixConn), nil
}

func roundTrip(conn net.Conn, br *bufio.Reader, req Request) (*Response, error) {
	req.Version = Version
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(data, '\n')); err != nil {
		// EPIPE or ECONNRESET: the monitor closed its end, as it does
		// when it exits right after the container: the caller re-reads
		// the state, as after a read failure below.
		return nil, fmt.Errorf("monitor: send %s: %w (%v)", req.Op, ErrNoMonitor, err)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		// The monitor went away while we waited (killed, or it exited
		// right after finishing): the caller re-reads the state.
		return nil, fmt.Errorf("monitor: %s: %w (%v)", req.Op, ErrNoMonitor, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("monitor: %s: bad response: %w", req.Op, err)
	}
	if resp.Version != Version {
		return nil, fmt.Errorf("monitor speaks protocol v%d, this berth v%d: stop the container with the berth that started it: %w", resp.Version, Version, errdefs.ErrFailedPrecondition)
	}
	if resp.Error != "" {
		return &resp, kindError(resp.Kind, resp.Error)
	}
	return &resp, nil
}

// kindError rebuilds an error of the errdefs kind named by kind.
func kindError(kind, msg string) error {
	var base error
	switch kind {
	case "not_found":
		base = errdefs.ErrNotFound
	case "conflict":
		base = errdefs.ErrConflict
	case "invalid":
		base = errdefs.ErrInvalidArgument
	case "precondition":
		base = errdefs.ErrFailedPrecondition
	case "permission":
		base = errdefs.ErrPermissionDenied
	case "unavailable":
		base = errdefs.ErrUnavailable
	default:
		return errors.New(msg)
	}
	return &kindErr{msg: msg, kind: base}
}

type kindErr struct {
	msg  string
	kind error
}

func (e *kindErr) Error() string { return e.msg }
func (e *kindErr) Unwrap() error { return e.kind }

// errKind names err's errdefs kind for the wire.
func errKind(err error) string {
	switch {
	case errdefs.IsNotFound(err):
		return "not_found"
	case errdefs.IsConflict(err):
		return "conflict"
	case errdefs.IsInvalidArgument(err):
		return "invalid"
	case errdefs.IsFailedPrecondition(err):
		return "precondition"
	case errdefs.IsPermissionDenied(err):
		return "permission"
	case errdefs.IsUnavailable(err):
		return "unavailable"
	}
	return ""
}

// Attach opens an attach stream: the returned connection carries, from the
// monitor, frames of [stream byte (1 stdout, 2 stderr), 0, 0, 0, uint32 big
// endian length] plus payload (docker's stdcopy framing; with a tty
// everything is stream 1), and to the monitor the raw stdin bytes. Closing
// the write side (CloseWrite) closes the container's stdin.
func (c *Client) Attach(ctx context.Context, req Request) (*net.UnixConn, *bufio.Reader, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	req.Op = "attach"
	br := bufio.NewReader(conn)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	_, err = roundTrip(conn, br, req)
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, br, nil
}
