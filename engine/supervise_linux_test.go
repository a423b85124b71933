package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestOutlivesParent: a container started by a process that then exits
// keeps running under its monitor; its logs and exit code are there for
// the next process.
func TestOutlivesParent(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c, err := te.Create(ctx, te.spec("job", "sh", "-c", "sleep 0.3; echo finished; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	cli := exec.Command("/proc/self/exe", cliArg, te.paths.Root, te.paths.Run, "start", c.ID)
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("start from a child process: %v: %s", err, out)
	}
	// The starting process is gone; the container runs on.
	got, _ := te.Inspect(ctx, c.ID)
	if !got.State.Running {
		t.Fatalf("after the parent exited: %+v", got.State)
	}
	code, err := te.Wait(ctx, c.ID)
	if err != nil || code != 3 {
		t.Fatalf("wait: %d, %v", code, err)
	}
	fresh, err := New(Options{Paths: te.paths, Images: te.images, Snapshotter: te.snaps})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = fresh.Inspect(ctx, c.Name)
	if got.State.Status != StatusExited || got.State.ExitCode != 3 || got.State.FinishedAt.IsZero() {
		t.Fatalf("recorded state: %+v", got.State)
	}
	if logs := te.logs(c.ID); !slices.Equal(logs, []string{"stdout: finished"}) {
		t.Fatalf("logs: %q", logs)
	}
}

// TestRestartPolicies: each policy, as docker applies it.
func TestRestartPolicies(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	finished := func(c *Container) bool { return c.State.Status == StatusExited && !c.State.MonitorAlive }

	t.Run("no", func(t *testing.T) {
		c := te.run(te.spec("no", "sh", "-c", "exit 1"))
		got := te.waitFor(c.ID, "exit", finished)
		if got.State.RestartCount != 0 || got.State.ExitCode != 1 {
			t.Fatalf("%+v", got.State)
		}
	})
	t.Run("on-failure:2", func(t *testing.T) {
		s := te.spec("onfail", "sh", "-c", "echo run; exit 3")
		s.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 2}
		c := te.run(s)
		got := te.waitFor(c.ID, "final exit", finished)
		if got.State.RestartCount != 2 || got.State.ExitCode != 3 {
			t.Fatalf("%+v", got.State)
		}
		if n := len(te.logs(c.ID)); n != 3 {
			t.Fatalf("%d runs logged, want 3", n)
		}
	})
	t.Run("on-failure success", func(t *testing.T) {
		s := te.spec("onfailok", "true")
		s.Restart = RestartPolicy{Name: "on-failure"}
		c := te.run(s)
		got := te.waitFor(c.ID, "exit", finished)
		if got.State.RestartCount != 0 || got.State.ExitCode != 0 {
			t.Fatalf("%+v", got.State)
		}
	})
	for _, policy := range []string{"always", "unless-stopped"} {
		t.Run(policy, func(t *testing.T) {
			s := te.spec(policy, "sh", "-c", "exit 0")
			s.Restart = RestartPolicy{Name: policy}
			c := te.run(s)
			te.waitFor(c.ID, "two restarts", func(c *Container) bool { return c.State.RestartCount >= 2 })
			if _, err := te.Stop(ctx, c.ID, StopOptions{}); err != nil {
				t.Fatal(err)
			}
			got, _ := te.Inspect(ctx, c.ID)
			if got.State.Status != StatusExited || got.State.MonitorAlive {
				t.Fatalf("after stop: %+v", got.State)
			}
		})
	}
}

// TestStopSignals: a PID 1 that handles SIGTERM stops by it; one that has
// no handler is killed at once and the reason says why; a zero timeout
// kills.
func TestStopSignals(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("trap", "sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done"))
	te.waitLog(c.ID, "stdout: ready")
	res, err := te.Stop(ctx, c.ID, StopOptions{})
	if err != nil || res.Killed {
		t.Fatalf("stop: %+v %v", res, err)
	}
	got, _ := te.Inspect(ctx, c.ID)
	if got.State.ExitCode != 0 || !slices.Contains(te.logs(c.ID), "stdout: bye") {
		t.Fatalf("after TERM: %+v %q", got.State, te.logs(c.ID))
	}

	c2 := te.run(te.spec("sleeper", "sleep", "1000"))
	res, err = te.Stop(ctx, c2.ID, StopOptions{})
	if err != nil || !res.Killed || res.Reason != "PID 1 has no handler for SIGTERM" || res.ExitCode != 137 {
		t.Fatalf("stop of PID 1 without handler: %+v %v", res, err)
	}

	s := te.spec("int", "sh", "-c", "trap 'exit 7' INT; trap '' TERM; echo ready; while :; do sleep 0.05; done")
	s.StopSignal = "SIGINT"
	c3 := te.run(s)
	te.waitLog(c3.ID, "stdout: ready")
	if res, err = te.Stop(ctx, c3.ID, StopOptions{}); err != nil || res.Killed || res.ExitCode != 7 {
		t.Fatalf("stop with stop_signal SIGINT: %+v %v", res, err)
	}
}

// waitLog waits until the container's log has line.
func (te *testEngine) waitLog(id, line string) {
	te.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	found := false
	stop := errors.New("found")
	err := te.Logs(ctx, id, LogsOptions{Follow: true, Tail: -1}, func(e LogEntry) error {
		if e.Stream+": "+string(e.Line) == line {
			found = true
			return stop
		}
		return nil
	})
	if !found {
		te.t.Fatalf("log line %q not seen: %v (log %q)", line, err, te.logs(id))
	}
}

// TestHealthReadiness: readiness probing makes the container healthy long
// before the first scheduled probe (interval 1 minute); the recorded probe
// shows it.
func TestHealthReadiness(t *testing.T) {
	te := newTestEngine(t)
	s := te.spec("db", "sh", "-c", "sleep 0.3; touch /tmp/ready; exec sleep 1000")
	s.Healthcheck = &Healthcheck{Test: []string{"CMD-SHELL", "test -f /tmp/ready"}, Interval: time.Minute, Retries: 3}
	c := te.run(s)
	got, _ := te.Inspect(context.Background(), c.ID)
	if got.State.Health == nil || got.State.Health.Status != HealthStarting {
		t.Fatalf("after start: %+v", got.State.Health)
	}
	got = te.waitFor(c.ID, "healthy", func(c *Container) bool { return c.State.Health != nil && c.State.Health.Status == HealthHealthy })
	log := got.State.Health.Log
	if len(log) != 1 || log[0].ExitCode != 0 {
		t.Fatalf("health log: %+v (only the successful readiness probe is recorded)", log)
	}
	if d := log[0].Start.Sub(got.State.StartedAt); d >= time.Minute {
		t.Fatalf("healthy %v after start: not before the interval", d)
	}
}

// TestHealthTransitions: starting → healthy → unhealthy after retries
// failures on the configured schedule, with the outputs kept (5 at most).
func TestHealthTransitions(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	s := te.spec("api", "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	s.Healthcheck = &Healthcheck{Test: []string{"CMD-SHELL", "cat /tmp/ok && echo fine"}, Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2}
	c := te.run(s)
	te.waitFor(c.ID, "healthy", func(c *Container) bool { return c.State.Health != nil && c.State.Health.Status == HealthHealthy })
	if code, err := te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"rm", "/tmp/ok"}}); err != nil || code != 0 {
		t.Fatalf("exec rm: %d %v", code, err)
	}
	got := te.waitFor(c.ID, "unhealthy", func(c *Container) bool { return c.State.Health != nil && c.State.Health.Status == HealthUnhealthy })
	h := got.State.Health
	if h.FailingStreak < 2 || len(h.Log) == 0 || len(h.Log) > 5 {
		t.Fatalf("health: %+v", h)
	}
	last := h.Log[len(h.Log)-1]
	if last.ExitCode == 0 || !strings.Contains(last.Output, "No such file") {
		t.Fatalf("last probe: %+v", last)
	}
	var fine bool
	for _, p := range h.Log {
		fine = fine || p.ExitCode == 0 && p.Output == "fine\n"
	}
	if !fine && len(h.Log) < 5 {
		t.Fatalf("the successful probe's output is not kept: %+v", h.Log)
	}
}

// TestOOMKilled: a memory hog over mem_limit is killed by the kernel and
// reported as docker does.
func TestOOMKilled(t *testing.T) {
	te := newTestEngine(t)
	s := te.spec("hog", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived")
	s.Resources.Memory = 16 << 20
	c := te.run(s)
	got := te.waitFor(c.ID, "exit", func(c *Container) bool { return c.State.Status == StatusExited && !c.State.MonitorAlive })
	if !got.State.OOMKilled {
		t.Fatalf("state: %+v (logs %q)", got.State, te.logs(c.ID))
	}
	// dd died of the OOM kill; sh (PID 1) went on: its own exit is 0,
	// and docker reports OOMKilled all the same.
	hog := te.spec("hog1", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	hog.Resources.Memory = 16 << 20
	c = te.run(hog)
	got = te.waitFor(c.ID, "exit", func(c *Container) bool { return c.State.Status == StatusExited && !c.State.MonitorAlive })
	if !got.State.OOMKilled || got.State.ExitCode != 137 {
		t.Fatalf("PID 1 hog: %+v", got.State)
	}
}

// TestPidsLimit: a fork bomb stops at pids_limit.
func TestPidsLimit(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	// The inner shell dies of its first failed fork; the sleeps it made stay.
	s := te.spec("forks", "sh", "-c", `sh -c 'for i in $(seq 1 40); do sleep 1000 & done'; echo spawned; exec sleep 1000`)
	s.Resources.PidsLimit = 10
	c := te.run(s)
	te.waitLog(c.ID, "stdout: spawned")
	st, err := te.Stats(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsLimit != 10 || st.PidsCurrent > 10 || st.PidsCurrent < 5 {
		t.Fatalf("pids: %d of %d", st.PidsCurrent, st.PidsLimit)
	}
	if !slices.ContainsFunc(te.logs(c.ID), func(l string) bool { return strings.Contains(l, "fork") }) {
		t.Fatalf("no fork failure logged: %q", te.logs(c.ID))
	}
	_, rows, err := te.Top(ctx, c.ID)
	if err != nil || len(rows) != int(st.PidsCurrent) {
		t.Fatalf("top: %d rows, %v; pids.current %d", len(rows), err, st.PidsCurrent)
	}
}

// TestExec: exec with the container's environment and working directory,
// with and without a terminal, exit codes passed back.
func TestExec(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	s := te.spec("box", "sleep", "1000")
	s.Env = []string{"GREETING=hi"}
	s.WorkingDir = "/tmp"
	c := te.run(s)
	var out bytes.Buffer
	code, err := te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"sh", "-c", "echo $GREETING $EXTRA; pwd; echo err >&2; exit 5"}, Env: []string{"EXTRA=there"}, Stdout: &out, Stderr: &out})
	if err != nil || code != 5 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if got := out.String(); got != "hi there\n/tmp\nerr\n" {
		t.Fatalf("exec output %q", got)
	}
	out.Reset()
	code, err = te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"sh", "-c", "tty; stty size"}, Tty: true, Stdout: &out, Resize: sizeChan(40, 120)})
	if err != nil || code != 0 {
		t.Fatalf("exec -t: %d %v", code, err)
	}
	if got := strings.ReplaceAll(out.String(), "\r", ""); !strings.HasPrefix(got, "/dev/pts/") || !strings.Contains(got, "40 120") {
		t.Fatalf("exec -t output %q", got)
	}
	out.Reset()
	code, err = te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"cat"}, Interactive: true, Stdin: strings.NewReader("piped\n"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "piped\n" {
		t.Fatalf("exec -i: %d %v %q", code, err, out.String())
	}
	if _, err := te.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"nosuchcommand"}}); !errdefs.IsNotFound(err) {
		t.Fatalf("exec of a missing command: %v", err)
	}
}

func sizeChan(rows, cols uint16) <-chan WinSize {
	ch := make(chan WinSize, 1)
	ch <- WinSize{Rows: rows, Cols: cols}
	close(ch)
	return ch
}

// TestConcurrentCommands: commands from several processes at once on the
// same containers never corrupt state: one name, one monitor, one removal.
func TestConcurrentCommands(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	// The same name from four engines at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := New(Options{Paths: te.paths, Images: te.images, Snapshotter: te.snaps})
			if err == nil {
				_, err = e.Create(ctx, te.spec("same", "sleep", "1000"))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !errdefs.IsAlreadyExists(err) {
			t.Fatalf("create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one name succeeded", won)
	}
	c, err := te.Inspect(ctx, te.project+"-same")
	if err != nil {
		t.Fatal(err)
	}
	// Three processes start it at once, then three remove it at once.
	for _, op := range []string{"start", "rm"} {
		var cmds []*exec.Cmd
		for range 3 {
			cmd := exec.Command("/proc/self/exe", cliArg, te.paths.Root, te.paths.Run, op, c.ID)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%s: %v", op, err)
			}
		}
		if op == "start" {
			got, _ := te.Inspect(ctx, c.ID)
			if !got.State.Running {
				t.Fatalf("after three starts: %+v", got.State)
			}
			if n := countMonitors(t, c.ID); n != 1 {
				t.Fatalf("%d monitors for one container", n)
			}
		}
	}
	if _, err := te.Inspect(ctx, c.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("after three removals: %v", err)
	}
}

// countMonitors counts the processes running as container id's monitor.
func countMonitors(t *testing.T, id string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, de := range ents {
		if _, err := strconv.Atoi(de.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + de.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && args[1] == "__monitor" && args[2] == id {
			n++
		}
	}
	return n
}

// TestMonitorKilled: a monitor killed with SIGKILL leaves its container
// running; Inspect says so; the next command stops and removes it.
func TestMonitorKilled(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("orphan", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"))
	te.waitLog(c.ID, "stdout: ready") // the trap is set
	var st struct {
		MonitorPid int `json:"monitor_pid"`
	}
	if err := readJSON(te.paths.ContainerRun(c.ID)+"/state.json", &st); err != nil || st.MonitorPid == 0 {
		t.Fatalf("monitor pid: %v", err)
	}
	if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := te.waitFor(c.ID, "monitor gone", func(c *Container) bool { return !c.State.MonitorAlive })
	if !got.State.Running || got.State.Pid == 0 {
		t.Fatalf("container after its monitor died: %+v", got.State)
	}
	if err := te.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ = te.Inspect(ctx, c.ID); !got.State.Running {
		t.Fatalf("sweep stopped a running container: %+v", got.State)
	}
	res, err := te.Stop(ctx, c.ID, StopOptions{})
	if err != nil || res.Killed {
		t.Fatalf("stop of an orphan: %+v %v", res, err)
	}
	if got, _ = te.Inspect(ctx, c.ID); got.State.Running || got.State.Status != StatusExited {
		t.Fatalf("after stop: %+v", got.State)
	}
	if err := te.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAttach: run -it and run -i through the monitor's attach stream:
// output from before the attach is not lost, stdin reaches the process,
// its EOF closes the process's stdin.
func TestAttach(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	s := te.spec("tty", "sh", "-c", "echo hello-tty; read x; echo got $x")
	s.Tty, s.OpenStdin = true, true
	c := te.run(s)
	var out bytes.Buffer
	if err := te.Attach(ctx, c.ID, AttachOptions{Stdin: strings.NewReader("abc\n"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if code, err := te.Wait(ctx, c.ID); err != nil || code != 0 {
		t.Fatalf("wait: %d %v", code, err)
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	if !strings.Contains(got, "hello-tty\n") || !strings.Contains(got, "got abc\n") {
		t.Fatalf("attach -t output %q", got)
	}

	s = te.spec("pipe", "sh", "-c", "cat; echo done >&2")
	s.OpenStdin = true
	c = te.run(s)
	var stdout, stderr bytes.Buffer
	if err := te.Attach(ctx, c.ID, AttachOptions{Stdin: strings.NewReader("piped\n"), Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatal(err)
	}
	if code, err := te.Wait(ctx, c.ID); err != nil || code != 0 {
		t.Fatalf("wait: %d %v", code, err)
	}
	if stdout.String() != "piped\n" || stderr.String() != "done\n" {
		t.Fatalf("attach -i: stdout %q stderr %q", stdout.String(), stderr.String())
	}

	// An attach that comes after a quick run ended still gets its output.
	s = te.spec("quick", "echo", "fast")
	s.OpenStdin = true
	c = te.run(s)
	te.waitFor(c.ID, "exit", func(c *Container) bool { return !c.State.Running && !c.State.MonitorAlive })
	stdout.Reset()
	if err := te.Attach(ctx, c.ID, AttachOptions{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stdout}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "fast\n" {
		t.Fatalf("attach after the end: %q", stdout.String())
	}
}
