package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// clockTicks is USER_HZ, 100 on every Linux architecture berth runs on.
const clockTicks = 100

// Top lists the container's processes as `ps -ef` does (docker top's
// default): UID PID PPID C STIME TTY TIME CMD.
func (e *Engine) Top(ctx context.Context, id string) ([]string, [][]string, error) {
	rec, err := e.resolve(id)
	if err != nil {
		return nil, nil, err
	}
	o := e.observe(rec.ID)
	if !(o.monitorAlive || o.orphan) || o.st.Pid == 0 {
		return nil, nil, fmt.Errorf("container %s is not running: %w", rec.Name, errdefs.ErrConflict)
	}
	cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	defer cg.Close()
	pids, err := cg.Pids()
	if err != nil {
		return nil, nil, err
	}
	titles := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
	boot := bootTime()
	now := time.Now()
	names := map[string]string{}
	var rows [][]string
	for _, pid := range pids {
		p, err := readProc(pid)
		if err != nil {
			continue // exited meanwhile
		}
		uname, ok := names[p.uid]
		if !ok {
			uname = p.uid
			if u, err := user.LookupId(p.uid); err == nil {
				uname = u.Username
			}
			names[p.uid] = uname
		}
		started := boot.Add(time.Duration(p.startTicks) * time.Second / clockTicks)
		stime := started.Format("15:04")
		if now.Sub(started) > 24*time.Hour {
			stime = started.Format("Jan02")
		}
		cpu := time.Duration(p.utime+p.stime) * time.Second / clockTicks
		c := 0
		if el := now.Sub(started); el > 0 {
			c = int(100 * cpu / el)
		}
		secs := int(cpu / time.Second)
		rows = append(rows, []string{
			uname, strconv.Itoa(pid), strconv.Itoa(p.ppid), strconv.Itoa(c), stime, p.tty(),
			fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60), p.cmd,
		})
	}
	return titles, rows, nil
}

type procInfo struct {
	ppid         int
	ttyNr        int
	utime, stime uint64
	startTicks   uint64
	uid          string
	cmd          string
}

func (p procInfo) tty() string {
	if p.ttyNr == 0 {
		return "?"
	}
	major, minor := (p.ttyNr>>8)&0xfff, (p.ttyNr&0xff)|((p.ttyNr>>12)&0xfff00)
	if major == 136 {
		return "pts/" + strconv.Itoa(minor)
	}
	return fmt.Sprintf("%d,%d", major, minor)
}

func readProc(pid int) (procInfo, error) {
	var p procInfo
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, err
	}
	i := bytes.LastIndexByte(stat, ')')
	j := bytes.IndexByte(stat, '(')
	if i < 0 || j < 0 {
		return p, fmt.Errorf("%s/stat: malformed", dir)
	}
	comm := string(stat[j+1 : i])
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return p, fmt.Errorf("%s/stat: malformed", dir)
	}
	p.ppid, _ = strconv.Atoi(f[1])
	p.ttyNr, _ = strconv.Atoi(f[4])
	p.utime, _ = strconv.ParseUint(f[11], 10, 64)
	p.stime, _ = strconv.ParseUint(f[12], 10, 64)
	p.startTicks, _ = strconv.ParseUint(f[19], 10, 64)
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(status))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) > 0 {
					p.uid = fs[0]
				}
				break
			}
		}
	}
	cmdline, _ := os.ReadFile(dir + "/cmdline")
	p.cmd = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.cmd == "" {
		p.cmd = "[" + comm + "]"
	}
	return p, nil
}

// bootTime is when the host booted (btime in /proc/stat).
func bootTime() time.Time {
	data, err := os.ReadFile("/proc/stat")
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					return time.Unix(n, 0)
				}
			}
		}
	}
	return time.Time{}
}

// Stats returns the container's resource figures now.
func (e *Engine) Stats(ctx context.Context, id string) (*Stats, error) {
	rec, err := e.resolve(id)
	if err != nil {
		return nil, err
	}
	o := e.observe(rec.ID)
	if !(o.monitorAlive || o.orphan) || o.st.Pid == 0 {
		return nil, fmt.Errorf("container %s is not running: %w", rec.Name, errdefs.ErrConflict)
	}
	cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	defer cg.Close()
	cs, err := cg.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	s := &Stats{
		Read: time.Now(), ID: rec.ID, Name: rec.Name,
		CPUUsage: cs.CPUUsage, SystemUsage: systemCPU(), OnlineCPUs: runtime.NumCPU(),
		MemoryUsage: cs.MemoryUsage - min(cs.MemoryUsage, cs.MemoryInactiveFile),
		MemoryLimit: cs.MemoryLimit, PidsCurrent: cs.PidsCurrent, PidsLimit: cs.PidsLimit,
		OOMKills: cs.OOMKills,
	}
	if s.MemoryLimit == 0 || s.MemoryLimit > hostMemory() {
		s.MemoryLimit = hostMemory()
	}
	s.NetRx, s.NetTx = netDev(o.st.Pid)
	return s, nil
}

// systemCPU is the host's total CPU time in nanoseconds (/proc/stat).
func systemCPU() uint64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	var ticks uint64
	for _, v := range f[1:min(len(f), 8)] {
		n, _ := strconv.ParseUint(v, 10, 64)
		ticks += n
	}
	return ticks * uint64(time.Second) / clockTicks
}

func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// netDev sums the bytes over the interfaces of pid's network namespace,
// loopback excluded.
func netDev(pid int) (rx, tx uint64) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx += r
		tx += t
	}
	return rx, tx
}
