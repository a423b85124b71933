package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
	"golang.org/x/sync/errgroup"
)

// benchEngine is newTestEngine for a benchmark. Monitors (and through
// them inits) are what users run: bin/berth-monitor, built by `task bench`
// beside bin/berth-init (BERTH_BIN overrides), else this test binary.
func benchEngine(b *testing.B) *testEngine {
	te := newTestEngine(b)
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../bin/berth-monitor")
	}
	if _, err := os.Stat(bin); err == nil {
		te.self = bin
		b.Logf("monitors and inits: %s", bin)
	} else {
		b.Logf("monitors and inits: the test binary (no %s)", bin)
	}
	return te
}

// BenchmarkCreateToRunning: from Create to the user's process running
// (Start returns when it has exec'd), for `true` on busybox. cpu-ms is the
// CPU time (user+system) of the whole cycle — create, start, exit,
// remove — of this process, the monitor and the container's init: a figure
// that stays comparable when the machine is loaded.
func BenchmarkCreateToRunning(b *testing.B) {
	te := benchEngine(b)
	ctx := context.Background()
	var cpu, creates []time.Duration
	testutil.Measure(b, 30, func(i int) time.Duration {
		s := te.spec(fmt.Sprintf("true%d", i+1), "true")
		c0 := cpuUsed()
		t0 := time.Now()
		c, err := te.Create(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		tc := time.Since(t0)
		if err := te.Start(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if _, err := te.Wait(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		if err := te.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // the monitor is reaped (its CPU counted)
		if i >= 0 {
			cpu = append(cpu, cpuUsed()-c0)
			creates = append(creates, tc)
		}
		return d
	})
	reportCPU(b, cpu)
	slices.Sort(creates)
	b.ReportMetric(float64(creates[len(creates)/2].Microseconds())/1000, "create-ms-median")
}

// cpuUsed is the CPU time of this process and its reaped children (the
// monitors, which include the inits they reaped).
func cpuUsed() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

func reportCPU(b *testing.B, cpu []time.Duration) {
	if len(cpu) == 0 {
		return
	}
	slices.Sort(cpu)
	b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds())/1000, "cpu-ms-median")
}

// BenchmarkMonitorRSS: resident memory of one container's monitor
// (bin/berth-monitor), settled (12 s after the start, past its first
// trim), with and without a healthcheck running.
func BenchmarkMonitorRSS(b *testing.B) {
	te := benchEngine(b)
	ctx := context.Background()
	for _, hc := range []bool{false, true} {
		s := te.spec(fmt.Sprintf("rss%v", hc), "sleep", "1000")
		if hc {
			s.Name = te.project + "-rsshealth"
			s.Healthcheck = &Healthcheck{Test: []string{"CMD", "true"}, Interval: 30 * time.Second}
		}
		c := te.run(s)
		time.Sleep(12 * time.Second) // past the monitor's first trim (10 s)
		pid := monitorPid(b, te, c.ID)
		rss, pss := memOf(b, pid)
		suffix := ""
		if hc {
			suffix = "-health"
		}
		b.ReportMetric(float64(rss), "KiB-rss"+suffix)
		b.ReportMetric(float64(pss), "KiB-pss"+suffix)
		if _, err := te.Stop(ctx, c.ID, StopOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
}

func monitorPid(b testing.TB, te *testEngine, id string) int {
	var st struct {
		MonitorPid int `json:"monitor_pid"`
	}
	if err := readJSON(te.paths.ContainerRun(id)+"/state.json", &st); err != nil {
		b.Fatal(err)
	}
	return st.MonitorPid
}

// memOf reads a process's RSS and PSS in KiB.
func memOf(b testing.TB, pid int) (rss, pss int) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			rss = n
		case "Pss:":
			pss = n
		}
	}
	return rss, pss
}

// BenchmarkStopToRemoved: stop then remove of a PID 1 without a SIGTERM
// handler (killed at once instead of after the 10 s grace period).
func BenchmarkStopToRemoved(b *testing.B) {
	te := benchEngine(b)
	ctx := context.Background()
	testutil.Measure(b, 20, func(i int) time.Duration {
		c := te.run(te.spec(fmt.Sprintf("stop%d", i+1), "sleep", "1000"))
		t0 := time.Now()
		res, err := te.Stop(ctx, c.ID, StopOptions{})
		if err != nil || !res.Killed {
			b.Fatalf("stop: %+v %v", res, err)
		}
		if err := te.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	})
}

// BenchmarkStart50: 50 containers started at once (created first); the
// time until all 50 processes run.
func BenchmarkStart50(b *testing.B) {
	te := benchEngine(b)
	ctx := context.Background()
	testutil.Measure(b, 3, func(i int) time.Duration {
		var ids []string
		for j := range 50 {
			c, err := te.Create(ctx, te.spec(fmt.Sprintf("w%d-%d", i+1, j), "sleep", "1000"))
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		t0 := time.Now()
		var g errgroup.Group
		for _, id := range ids {
			g.Go(func() error { return te.Start(ctx, id) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if i == 0 {
			// Memory of 50 monitors side by side, settled (trimmed at 1 s):
			// the text pages they share count once in PSS.
			time.Sleep(2 * time.Second)
			var rss, pss int
			for _, id := range ids {
				r, p := memOf(b, monitorPid(b, te, id))
				rss += r
				pss += p
			}
			b.ReportMetric(float64(rss/len(ids)), "KiB-rss-per-monitor")
			b.ReportMetric(float64(pss/len(ids)), "KiB-pss-per-monitor")
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := te.Remove(ctx, id, RemoveOptions{Force: true}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		return d
	})
}
