package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The userland proxy forwards a published port from the reserved host
// socket to the container, in the process that called Attach. It is the
// fallback for hosts where nftables cannot be used (Options.UserlandProxy);
// TCP streams are copied with splice(2) by the kernel (net.TCPConn's
// ReadFrom), UDP datagrams through one upstream socket per client.

// startProxy serves the reserved socket c (a net.Listener or a
// net.PacketConn) towards target ("ip:port").
func startProxy(c io.Closer, target string) (io.Closer, error) {
	switch s := c.(type) {
	case net.Listener:
		p := &tcpProxy{l: s, target: target}
		p.wg.Add(1)
		go p.serve()
		return p, nil
	case net.PacketConn:
		p := &udpProxy{pc: s, target: target, clients: map[string]*net.UDPConn{}}
		p.wg.Add(1)
		go p.serve()
		return p, nil
	}
	return nil, fmt.Errorf("proxy: unsupported socket %T", c)
}

type tcpProxy struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

func (p *tcpProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		p.conns = map[net.Conn]bool{}
	}
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *tcpProxy) pipe(in net.Conn) {
	defer p.wg.Done()
	out, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	p.track(in, true)
	p.track(out, true)
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go half(out, in)
	go half(in, out)
	wg.Wait()
	_ = in.Close()
	_ = out.Close()
	p.track(in, false)
	p.track(out, false)
}

// Close stops accepting, closes every proxied connection and waits.
func (p *tcpProxy) Close() error {
	err := p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

type udpProxy struct {
	pc      net.PacketConn
	target  string
	wg      sync.WaitGroup
	mu      sync.Mutex
	clients map[string]*net.UDPConn
}

const udpIdle = 60 * time.Second

func (p *udpProxy) serve() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up := p.upstream(from)
		if up != nil {
			_, _ = up.Write(buf[:n])
		}
	}
}

// upstream returns the socket towards the container for one client,
// starting its reply loop on first use.
func (p *udpProxy) upstream(from net.Addr) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[from.String()]; c != nil {
		return c
	}
	raddr, err := net.ResolveUDPAddr("udp", p.target)
	if err != nil {
		return nil
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil
	}
	p.clients[from.String()] = c
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 65535)
		for {
			_ = c.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			_, _ = p.pc.WriteTo(buf[:n], from)
		}
		p.mu.Lock()
		delete(p.clients, from.String())
		p.mu.Unlock()
		_ = c.Close()
	}()
	return c
}

// Close stops the proxy and waits for its goroutines.
func (p *udpProxy) Close() error {
	err := p.pc.Close()
	p.mu.Lock()
	for _, c := range p.clients {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
