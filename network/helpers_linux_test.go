package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/network/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main(m, map[string]sandbox.Role{
		"sleep":  roleSleep,
		"http":   roleHTTP,
		"attach": roleAttach,
		"sink":   roleSink,
		"bind53": roleBind53,
	})
}

// sleepForever blocks until the process is killed. (A bare `select {}` is
// reported as a deadlock by the runtime of a static, cgo-free binary.)
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// roleSleep is a container doing nothing.
func roleSleep([]string) error {
	sandbox.Ready()
	sleepForever()
	return nil
}

// roleHTTP serves its first argument as the body of every page on :80.
func roleHTTP(args []string) error {
	l, err := net.Listen("tcp", ":80")
	if err != nil {
		return err
	}
	sandbox.Ready()
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, args[0])
	}))
}

// roleBind53 is a DNS-server-like service: it holds UDP and TCP port 53 on
// every address of its namespace.
func roleBind53([]string) error {
	pc, err := net.ListenPacket("udp4", "0.0.0.0:53")
	if err != nil {
		return err
	}
	defer pc.Close()
	l, err := net.Listen("tcp4", "0.0.0.0:53")
	if err != nil {
		return err
	}
	defer l.Close()
	sandbox.Ready()
	sleepForever()
	return nil
}

// roleSink accepts TCP connections on :5001 and discards what they send,
// for throughput benchmarks.
func roleSink([]string) error {
	l, err := net.Listen("tcp", ":5001")
	if err != nil {
		return err
	}
	sandbox.Ready()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	}
}

// roleAttach attaches a container described in BERTH_TEST_ATTACH (JSON:
// root, options) and then blocks, like a monitor; the test kills it at
// some point to check that Sweep cleans up after it.
func roleAttach([]string) error {
	var in struct {
		Paths   state.Paths
		LockDir string
		Opts    AttachOptions
	}
	if err := json.Unmarshal([]byte(os.Getenv("BERTH_TEST_ATTACH")), &in); err != nil {
		return err
	}
	m, err := New(Options{Paths: in.Paths, LockDir: in.LockDir})
	if err != nil {
		return err
	}
	sandbox.Ready()
	if _, err := m.Attach(context.Background(), in.Opts); err != nil {
		return err
	}
	fmt.Println("attached")
	sleepForever()
	return nil
}

// env is one test's berth root and manager, in the sandbox.
type env struct {
	t     testing.TB
	paths state.Paths
	lock  string
	m     *Manager
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testutil.RequiresRoot(t)
	if !sandbox.Inner() {
		t.Skip("runs only in the sandbox network namespace")
	}
	dir := t.TempDir()
	e := &env{t: t, paths: state.Paths{Root: filepath.Join(dir, "root"), Run: filepath.Join(dir, "run")}, lock: filepath.Join(dir, "locks")}
	e.m = e.manager(Options{})
	return e
}

// manager returns a manager on e's root; opts' zero fields are e's.
func (e *env) manager(opts Options) *Manager {
	e.t.Helper()
	if opts.Paths.Root == "" {
		opts.Paths = e.paths
	}
	if opts.LockDir == "" {
		opts.LockDir = e.lock
	}
	m, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) network(name string, mut ...func(*Spec)) *Network {
	e.t.Helper()
	s := Spec{Name: name, Labels: map[string]string{"com.docker.compose.project": "p", "com.docker.compose.network": "default"}}
	for _, f := range mut {
		f(&s)
	}
	n, err := e.m.Create(context.Background(), s)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.m.Remove(context.Background(), name) })
	return n
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// attach attaches a stand-in container and detaches it at the end.
func (e *env) attach(c *sandbox.Container, name string, eps []EndpointOptions, ports ...PortOptions) (string, AttachResult) {
	e.t.Helper()
	id := newID()
	res, err := e.m.Attach(context.Background(), AttachOptions{ContainerID: id, ContainerName: name, Project: "p", Pid: c.Pid,
		Endpoints: eps, Ports: ports})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.m.Detach(context.Background(), id) })
	return id, res
}

// serveDNS runs the container's resolver until the end of the test.
func (e *env) serveDNS(id string, c *sandbox.Container) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.ServeDNS(ctx, id, c.Pid) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// httpFrom GETs url from inside c's namespace, resolving names with its
// embedded resolver.
func httpFrom(c *sandbox.Container, url string) (string, error) {
	dial := sandbox.Dialer(c.Pid)
	res := sandbox.Resolver(c.Pid, "127.0.0.11:53")
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if net.ParseIP(host) == nil {
			ips, err := res.LookupHost(ctx, host)
			if err != nil {
				return nil, err
			}
			host = ips[0]
		}
		return dial(ctx, network, net.JoinHostPort(host, port))
	}}
	return get(&http.Client{Transport: tr, Timeout: 5 * time.Second}, url)
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func httpHost(url string) (string, error) {
	return get(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, url)
}

// leftovers lists what the given containers (id → networks) still hold:
// veths, published ports, endpoint records (DNS names come from them),
// leases.
func (e *env) leftovers(containers map[string][]string) []string {
	e.t.Helper()
	// The kernel tears a dead container's namespace down (and its veth
	// pair with it) asynchronously: give it a moment.
	var out []string
	for range 40 {
		if out = e.leftoversNow(containers); len(out) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}

func (e *env) leftoversNow(containers map[string][]string) []string {
	var out []string
	// Veth names are per attach: look for any port left on the networks'
	// bridges (callers check networks none of whose containers live).
	links, _ := netlink.LinkList()
	for _, nets := range containers {
		for _, name := range nets {
			n, err := e.m.load(name)
			if err != nil {
				continue
			}
			br, err := netlink.LinkByName(n.Bridge)
			if err != nil {
				continue
			}
			for _, l := range links {
				if l.Attrs().MasterIndex == br.Attrs().Index {
					out = append(out, "veth "+l.Attrs().Name+" on "+n.Bridge)
				}
			}
		}
	}
	owners, err := e.m.fw.Owners(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for id, nets := range containers {
		if owners["ctr:"+id] {
			out = append(out, "nft ports of "+id[:12])
		}
		if _, err := e.m.readEndpoint(id); err == nil {
			out = append(out, "endpoint record of "+id[:12])
		}
		for _, n := range nets {
			ls, _ := e.m.leases.Leases(context.Background(), n)
			for a, o := range ls {
				if o == id {
					out = append(out, "lease "+a.String())
				}
			}
		}
	}
	return out
}

// rootLeftovers lists whatever of e's root exists: bridges carrying its
// alias, nftables rules of the given bridges, files but lock files and an
// empty endpoint table.
func (e *env) rootLeftovers(bridges ...string) []string {
	e.t.Helper()
	var out []string
	links, _ := netlink.LinkList()
	for _, l := range links {
		if root, _, ok := parseAlias(l.Attrs().Alias); ok && root == e.paths.Root {
			out = append(out, "bridge "+l.Attrs().Name)
		}
	}
	owners, err := e.m.fw.Owners(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bridges {
		if owners["net:"+b] {
			out = append(out, "nft rules of "+b)
		}
	}
	if ids, _ := e.m.endpointIDs(); len(ids) > 0 {
		out = append(out, fmt.Sprintf("endpoint records %v", ids))
	}
	for _, dir := range []string{e.paths.Run, e.paths.Root} {
		_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || strings.HasSuffix(p, ".lock") || filepath.Base(p) == "lock" {
				return nil
			}
			if strings.HasPrefix(filepath.Base(p), "endpoints.") {
				return nil // the table: its entries are checked below
			}
			out = append(out, "file "+p)
			return nil
		})
	}
	return out
}

// tableExists reports whether berth's ip table exists (nothing of any
// test's is left when no other test runs).
func tableExists() bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	t, err := c.ListTableOfFamily("berth", nftables.TableFamilyIPv4)
	return err == nil && t != nil
}
