package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/network/internal/sandbox"
)

// BenchmarkAttach: veth pair into the namespace, addresses, routes,
// loopback, DNS records and resolver sockets; with a published port, the
// reservation and the nftables batch too.
func BenchmarkAttach(b *testing.B) {
	for _, ports := range []int{0, 1} {
		b.Run(fmt.Sprintf("ports=%d", ports), func(b *testing.B) {
			e := newEnv(b)
			n := e.network("p_default")
			ctx := context.Background()
			var cpu []time.Duration
			testutil.Measure(b, 40, func(i int) time.Duration {
				c, err := sandbox.StartRole("sleep", nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Kill()
				opts := AttachOptions{ContainerID: newID(), ContainerName: "p-web-1", Pid: c.Pid,
					Endpoints: []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}}}
				if ports > 0 {
					opts.Ports = []PortOptions{{ContainerPort: 80}}
				}
				c0 := cpuTime()
				t0 := time.Now()
				if _, err := e.m.Attach(ctx, opts); err != nil {
					b.Fatal(err)
				}
				d := time.Since(t0)
				if i >= 0 {
					cpu = append(cpu, cpuTime()-c0)
				}
				if err := e.m.Detach(ctx, opts.ContainerID); err != nil {
					b.Fatal(err)
				}
				return d
			})
			// CPU time (user+system, this process, kernel work of the
			// netlink requests included): comparable under load.
			slices.Sort(cpu)
			b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds())/1000, "cpu-ms-median")
		})
	}
}

// BenchmarkDetach: the teardown at container exit, as the monitor does it:
// after the container's processes are gone (its namespace, and with it the
// veth pair, go with them).
func BenchmarkDetach(b *testing.B) {
	e := newEnv(b)
	n := e.network("p_default")
	ctx := context.Background()
	testutil.Measure(b, 40, func(i int) time.Duration {
		c, err := sandbox.StartRole("sleep", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Kill()
		id := newID()
		if _, err := e.m.Attach(ctx, AttachOptions{ContainerID: id, ContainerName: "p-web-1", Pid: c.Pid,
			Endpoints: []EndpointOptions{{Network: n.Name}}, Ports: []PortOptions{{ContainerPort: 80}}}); err != nil {
			b.Fatal(err)
		}
		c.Kill()
		t0 := time.Now()
		if err := e.m.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	})
}

// BenchmarkDNSQuery: one A query for a service name from inside a
// container to its embedded resolver (UDP, socket reused).
func BenchmarkDNSQuery(b *testing.B) {
	e := newEnv(b)
	n := e.network("p_default")
	web := sandbox.Start(b, "sleep")
	e.attach(web, "p-web-1", []EndpointOptions{{Network: n.Name, Aliases: []string{"web"}}})
	client := sandbox.Start(b, "sleep")
	cid, _ := e.attach(client, "p-client-1", []EndpointOptions{{Network: n.Name}})
	e.serveDNS(cid, client)
	var conn net.Conn
	if err := sandbox.InNetns(client.Pid, func() (err error) {
		conn, err = net.Dial("udp", "127.0.0.11:53")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	dc := &dns.Conn{Conn: conn}
	q := new(dns.Msg)
	q.SetQuestion("web.", dns.TypeA)
	testutil.Measure(b, 500, func(i int) time.Duration {
		t0 := time.Now()
		if err := dc.WriteMsg(q); err != nil {
			b.Fatal(err)
		}
		r, err := dc.ReadMsg()
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("%v %v", r, err)
		}
		return time.Since(t0)
	})
}

// BenchmarkPublishedThroughput streams 128 MiB over TCP from the host to a
// container: straight to its address, through a port published on
// 127.0.0.1 by nftables DNAT, and through the userland proxy. The
// ratio metric is each against the straight stream (medians of 9 rounds;
// a ratio above 1 means faster than the straight stream).
func BenchmarkPublishedThroughput(b *testing.B) {
	const size = 128 << 20
	e := newEnv(b)
	n := e.network("p_default")
	sink := sandbox.Start(b, "sink")
	_, res := e.attach(sink, "p-sink-1", []EndpointOptions{{Network: n.Name}}, PortOptions{HostIP: "127.0.0.1", ContainerPort: 5001})
	px := e.manager(Options{UserlandProxy: true})
	sink2 := sandbox.Start(b, "sink")
	pres, err := px.Attach(context.Background(), AttachOptions{ContainerID: newID(), ContainerName: "p-sink-2", Pid: sink2.Pid,
		Endpoints: []EndpointOptions{{Network: n.Name}}, Ports: []PortOptions{{HostIP: "127.0.0.1", ContainerPort: 5001}}})
	if err != nil {
		b.Fatal(err)
	}
	defer px.Detach(context.Background(), pres.Endpoints[0].ContainerID)
	buf := make([]byte, 256<<10)
	stream := func(addr string) time.Duration {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := io.CopyBuffer(c, io.LimitReader(zeros{}, size), buf); err != nil {
			b.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c) // the sink closes after reading all
		d := time.Since(t0)
		c.Close()
		return d
	}
	targets := []struct{ name, addr string }{
		{"direct", net.JoinHostPort(res.Endpoints[0].IPv4, "5001")},
		{"nft-dnat-127.0.0.1", fmt.Sprintf("127.0.0.1:%d", res.Ports[0].HostPort)},
		{"userland-proxy-127.0.0.1", fmt.Sprintf("127.0.0.1:%d", pres.Ports[0].HostPort)},
	}
	// Rounds interleave the three paths, so that load from elsewhere on the
	// machine weighs on each alike; round 0 warms up.
	const rounds = 9
	ds := map[string][]time.Duration{}
	for r := 0; r <= rounds; r++ {
		for _, tg := range targets {
			if d := stream(tg.addr); r > 0 {
				ds[tg.name] = append(ds[tg.name], d)
			}
		}
	}
	var direct time.Duration
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			med, _, _ := testutil.Measure(b, rounds, func(i int) time.Duration {
				if i < 0 {
					return 0
				}
				return ds[tg.name][i]
			})
			b.ReportMetric(float64(size)/(1<<20)/med.Seconds(), "MiB/s")
			if tg.name == "direct" {
				direct = med
			} else if direct > 0 {
				b.ReportMetric(float64(direct)/float64(med), "ratio-vs-direct")
			}
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
