// Package sandbox runs the network packages' root tests in a network
// namespace of their own, so that their bridges, nftables rules and sysctls
// never touch the host's (other engineers and containers share this
// machine), and makes stand-in "containers": processes in network namespaces
// of their own.
//
// Main re-executes the test binary in a new network namespace (only when run
// as root; otherwise the tests skip themselves). Inside, loopback is up and
// nothing else exists: no route leaves the namespace, so no test can send
// traffic anywhere but to 127.0.0.0/8 and to its own namespaces.
package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	envInner = "BERTH_SANDBOX_NETNS"
	envRole  = "BERTH_SANDBOX_ROLE"
)

// Role is a function a test binary re-executed as a stand-in container
// runs; it prints "ready" on stdout when set up, and should block until
// killed.
type Role func(args []string) error

// Main is the package's TestMain: it dispatches roles, re-executes the tests
// in a private network namespace when root, and runs them.
func Main(m *testing.M, roles map[string]Role) {
	if name := os.Getenv(envRole); name != "" {
		r := roles[name]
		if r == nil {
			fmt.Fprintf(os.Stderr, "sandbox: no role %q\n", name)
			os.Exit(2)
		}
		if err := r(os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox role %s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() == 0 && os.Getenv(envInner) == "" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), envInner+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: unix.SIGKILL}
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(envInner) != "" {
		if lo, err := netlink.LinkByName("lo"); err == nil {
			_ = netlink.LinkSetUp(lo)
		}
	}
	os.Exit(m.Run())
}

// Inner reports whether the tests run in the private namespace.
func Inner() bool { return os.Getenv(envInner) != "" }

// Container is a stand-in container: the test binary re-executed in a
// network namespace of its own, running a Role.
type Container struct {
	Pid int
	cmd *exec.Cmd
	out *bufio.Reader
}

// Start starts role in a new network namespace and waits for it to print
// "ready". It is killed at the end of the test.
func Start(t testing.TB, role string, args ...string) *Container {
	t.Helper()
	c, err := StartRole(role, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// StartRole is Start without a test: env is added to the role's environment.
func StartRole(role string, env []string, args ...string) (*Container, error) {
	return start(role, env, true, args)
}

// StartHostRole starts role in the sandbox's own namespace (like a berth
// process on the host) and waits for it to print "ready"; env is added to
// its environment. The caller kills it.
func StartHostRole(role string, env []string, args ...string) (*Container, error) {
	return start(role, env, false, args)
}

func start(role string, env []string, newNetns bool, args []string) (*Container, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRole+"="+role), env...)
	cmd.Stderr = os.Stderr
	// Pdeathsig fires when the forking *thread* exits, and Go threads do
	// exit: containers are forked by one locked thread that never does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if newNetns {
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNET
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startOnSpawner(cmd); err != nil {
		return nil, err
	}
	c := &Container{Pid: cmd.Process.Pid, cmd: cmd, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		c.Kill()
		return nil, fmt.Errorf("role %s did not get ready: %q %v", role, line, err)
	}
	return c, nil
}

// ReadLine reads the next line the process printed (after "ready").
func (c *Container) ReadLine() (string, error) {
	l, err := c.out.ReadString('\n')
	return strings.TrimSpace(l), err
}

var (
	spawnOnce sync.Once
	spawnReq  chan spawnJob
)

type spawnJob struct {
	cmd  *exec.Cmd
	done chan error
}

// startOnSpawner starts cmd from a thread locked for the life of the
// process (test helper; the one package-level state of the sandbox).
func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan spawnJob)
		go func() {
			runtime.LockOSThread() // never unlocked, and this goroutine never ends
			for j := range spawnReq {
				j.done <- j.cmd.Start()
			}
		}()
	})
	j := spawnJob{cmd: cmd, done: make(chan error, 1)}
	spawnReq <- j
	return <-j.done
}

// Kill kills the process (SIGKILL) and reaps it; its network namespace,
// if it had one of its own, goes with it.
func (c *Container) Kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// Wait waits for the process to exit.
func (c *Container) Wait() error { return c.cmd.Wait() }

// Ready prints the line Start waits for.
func Ready() { fmt.Println("ready") }

// InNetns runs fn on a thread that joined pid's network namespace, then
// moves the thread back. Sockets fn makes stay in that namespace.
func InNetns(pid int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else the thread dies with this goroutine
		errc <- err
	}()
	return <-errc
}

// Dialer returns a DialContext that connects from inside pid's namespace.
func Dialer(pid int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := InNetns(pid, func() error {
			var err error
			d := net.Dialer{Timeout: 5 * time.Second}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Resolver returns a resolver that asks server (e.g. "127.0.0.11:53") from
// inside pid's namespace, as a program in the container would.
func Resolver(pid int, server string) *net.Resolver {
	dial := Dialer(pid)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, server)
	}}
}
