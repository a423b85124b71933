package dns

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Address is where a container's resolver listens, inside its namespace.
const Address = "127.0.0.11:53"

// Listen opens the resolver's UDP and TCP sockets on addr inside the network
// namespace at nsPath (e.g. /proc/PID/ns/net). The sockets keep that
// namespace for their life; everything else of the caller stays in its own.
//
// It joins the namespace on a locked thread and moves the thread back
// before unlocking it; if it cannot move back, the thread is discarded
// (never unlocked), so no goroutine ever runs in the container's namespace.
// Threads are not discarded otherwise: a thread's exit would deliver the
// parent-death signal to children it forked (Pdeathsig).
func Listen(nsPath, addr string) (udp net.PacketConn, tcp net.Listener, err error) {
	type result struct {
		udp net.PacketConn
		tcp net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { ch <- r }()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			r.err = err
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		f, err := os.Open(nsPath)
		if err != nil {
			r.err = err
			runtime.UnlockOSThread()
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			r.err = fmt.Errorf("join network namespace %s: %w", nsPath, err)
			runtime.UnlockOSThread()
			return
		}
		defer func() {
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			} // else: stay locked, the thread exits with this goroutine
		}()
		if r.udp, r.err = net.ListenPacket("udp4", addr); r.err != nil {
			return
		}
		if r.tcp, r.err = net.Listen("tcp4", addr); r.err != nil {
			_ = r.udp.Close()
			r.udp = nil
		}
	}()
	r := <-ch
	if r.err != nil {
		return nil, nil, fmt.Errorf("dns: listen on %s in the container: %w", addr, r.err)
	}
	return r.udp, r.tcp, nil
}

// ListenHere opens the resolver's UDP and TCP sockets on addr in the
// calling thread's network namespace (for a caller that joined the
// container's on a locked thread).
func ListenHere(addr string) (net.PacketConn, net.Listener, error) {
	udp, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen on %s in the container: %w", addr, err)
	}
	tcp, err := net.Listen("tcp4", addr)
	if err != nil {
		_ = udp.Close()
		return nil, nil, fmt.Errorf("dns: listen on %s in the container: %w", addr, err)
	}
	return udp, tcp, nil
}
