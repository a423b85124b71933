package monitor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthdev/berth/engine/runtime"
	"golang.org/x/sys/unix"
)

// Docker's healthcheck defaults and limits.
const (
	defaultInterval      = 30 * time.Second
	defaultTimeout       = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultRetries       = 3
	maxHealthLog         = 5
	maxHealthOutput      = 4096
)

// Readiness probing: until the first success, extra probes run from
// fastStart after the start, each gap fastGrowth times the last, up to the
// configured interval. Only their successes count.
const (
	fastStart  = 50 * time.Millisecond
	fastGrowth = 1.5
)

func (m *monitor) hasHealthcheck() bool { return m.healthcheck() != nil }

// healthcheck is the config's test with docker's defaults, nil when none.
func (m *monitor) healthcheck() *Healthcheck {
	h := m.cfg.Health
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	if h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL" || len(h.Test) < 2 {
		return nil
	}
	hc := *h
	if hc.Interval <= 0 {
		hc.Interval = defaultInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = defaultTimeout
	}
	if hc.StartInterval <= 0 {
		hc.StartInterval = defaultStartInterval
	}
	if hc.Retries <= 0 {
		hc.Retries = defaultRetries
	}
	return &hc
}

// runHealth probes on docker's schedule (the interval, or start_interval
// while starting within start_period) and, until the container is healthy
// for the first time, also on the fast readiness schedule. It ends with ctx.
func (m *monitor) runHealth(ctx context.Context, rs *runState, hc *Healthcheck) {
	defer m.recoverLog("health")
	interval := func() time.Duration {
		if time.Since(rs.started) >= hc.StartPeriod {
			return hc.Interval
		}
		if m.healthStatus() == HealthStarting {
			return hc.StartInterval
		}
		return hc.Interval
	}
	sched := time.NewTimer(interval())
	defer sched.Stop()
	fastGap := fastStart
	fast := time.NewTimer(fastGap)
	defer fast.Stop()
	fastC := fast.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-sched.C:
			p := m.probe(ctx, rs, hc)
			if ctx.Err() != nil {
				return
			}
			m.recordProbe(rs, hc, p, false)
			sched.Reset(interval())
		case <-fastC:
			p := m.probe(ctx, rs, hc)
			if ctx.Err() != nil {
				return
			}
			if p.ExitCode == 0 {
				m.recordProbe(rs, hc, p, true)
			}
			fastGap = min(time.Duration(float64(fastGap)*fastGrowth), hc.Interval)
			fast.Reset(fastGap)
		}
		if fastC != nil && m.healthStatus() == HealthHealthy {
			fast.Stop()
			fastC = nil // healthy once: docker's schedule alone from now on
		}
	}
}

func (m *monitor) healthStatus() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Health == nil {
		return ""
	}
	return m.st.Health.Status
}

// recordProbe applies a probe's result as docker's handleProbeResult does:
// success → healthy and the streak reset; a failure counts unless the
// container never succeeded and is within start_period; retries failures
// in a row → unhealthy. The last five probes are kept.
func (m *monitor) recordProbe(rs *runState, hc *Healthcheck, p HealthProbe, fast bool) {
	m.mu.Lock()
	if m.cur != rs || m.st.Health == nil {
		m.mu.Unlock()
		return
	}
	h := m.st.Health
	old := h.Status
	h.Log = append(h.Log, p)
	if len(h.Log) > maxHealthLog {
		h.Log = append(h.Log[:0], h.Log[len(h.Log)-maxHealthLog:]...)
	}
	if p.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
	} else if !(h.Status == HealthStarting && p.Start.Sub(rs.started) < hc.StartPeriod) {
		h.FailingStreak++
		if h.FailingStreak >= hc.Retries {
			h.Status = HealthUnhealthy
		}
	}
	changed := h.Status != old
	m.saveLocked(liveOnly)
	m.mu.Unlock()
	if changed {
		m.event("health_status: "+h.Status, nil)
	}
}

// probe runs the test once in the container (its namespaces, cgroup, user,
// environment and working directory, as exec does).
func (m *monitor) probe(ctx context.Context, rs *runState, hc *Healthcheck) HealthProbe {
	var args []string
	if hc.Test[0] == "CMD" {
		args = hc.Test[1:]
	} else {
		args = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	}
	out := &capped{max: maxHealthOutput}
	p := HealthProbe{Start: time.Now()}
	code, err := m.execWait(ctx, rs, args, out, hc.Timeout)
	p.End = time.Now()
	switch {
	case err == errProbeTimeout:
		p.ExitCode, p.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", hc.Timeout)
	case err != nil:
		p.ExitCode, p.Output = -1, err.Error()
	default:
		p.ExitCode, p.Output = code, out.String()
	}
	return p
}

var errProbeTimeout = fmt.Errorf("probe timed out")

// execWait runs args in the container and waits at most timeout.
func (m *monitor) execWait(ctx context.Context, rs *runState, args []string, out *capped, timeout time.Duration) (int, error) {
	cfg := m.execConfig(rs, args)
	cfg.Stdout, cfg.Stderr = out, out
	p, err := runtime.Exec(ctx, rs.pid, cfg)
	if err != nil {
		return -1, err
	}
	done := make(chan struct{})
	var code int
	var werr error
	go func() {
		defer close(done)
		code, werr = p.Wait()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return code, werr
	case <-t.C:
	case <-ctx.Done():
	}
	_ = p.Signal(unix.SIGKILL)
	<-done
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	return -1, errProbeTimeout
}

// execConfig is an exec of args with the container's process settings.
func (m *monitor) execConfig(rs *runState, args []string) runtime.ExecConfig {
	in := &m.cfg.Init
	cfg := runtime.ExecConfig{
		Args: args, Env: in.Env, Cwd: in.Cwd, User: in.User, GroupAdd: in.GroupAdd,
		Capabilities: in.Capabilities, NoNewPrivs: in.NoNewPrivs, Seccomp: in.Seccomp,
		Privileged: in.Privileged, Rlimits: in.Rlimits, OomScoreAdj: in.OomScoreAdj,
	}
	if fd, err := rs.cg.FD(); err == nil && fd > 0 {
		cfg.CgroupFD = fd
	} else {
		cfg.CgroupPaths = rs.cg.Paths()
	}
	return cfg
}

// capped keeps the first max bytes written to it.
type capped struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}
