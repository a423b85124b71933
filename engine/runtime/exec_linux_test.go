package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execOut runs args in the container of p and returns its output and code.
func execOut(t *testing.T, pid int, cfg ExecConfig) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	cfg.Stdout, cfg.Stderr = &buf, &buf
	ep, err := Exec(context.Background(), pid, cfg)
	if err != nil {
		t.Fatalf("exec %v: %v", cfg.Args, err)
	}
	code, err := ep.Wait()
	if err != nil {
		t.Fatalf("exec wait: %v", err)
	}
	return buf.String(), code
}

// execConfig is an exec with the container's own security settings.
func execConfig(cfg Config, args ...string) ExecConfig {
	return ExecConfig{
		Args: args, Env: cfg.Env, Cwd: cfg.Cwd, User: cfg.User,
		Capabilities: cfg.Capabilities, NoNewPrivs: cfg.NoNewPrivs, Seccomp: cfg.Seccomp,
		Rlimits: cfg.Rlimits,
	}
}

func TestLinuxExec(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := build(t, spec(t, "sleep", "30"))
	p := started(t, cfg)

	out, code := execOut(t, p.Pid, execConfig(cfg, "sh", "-c",
		`echo pid=$$ host=$(hostname); grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; ls /proc | grep -c '^[0-9]'; mount -t tmpfs t /mnt && echo MOUNTED; ulimit -n`))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"host=ctr", "CapEff:\t00000000a80425fb", "Seccomp:\t2", "\n1024\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MOUNTED") || strings.Contains(out, "pid=1 ") {
		t.Errorf("exec'd process is not confined like the container:\n%s", out)
	}

	// Exit codes, users, working directory, stdin.
	if _, code := execOut(t, p.Pid, execConfig(cfg, "sh", "-c", "exit 42")); code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	ec := execConfig(cfg, "sh", "-c", "id; pwd; cat")
	ec.User, ec.Cwd = "app", "/home/app"
	ec.Stdin = strings.NewReader("from stdin\n")
	out, _ = execOut(t, p.Pid, ec)
	want := "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/home/app\nfrom stdin\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}

	// Not found: docker's message and 127; no such user.
	_, err := Exec(context.Background(), p.Pid, execConfig(cfg, "nosuch"))
	var se *StartError
	if !errors.As(err, &se) || se.ExitCode() != 127 || !strings.Contains(err.Error(), `exec: "nosuch": executable file not found in $PATH`) {
		t.Errorf("not found: %v", err)
	}
	ec = execConfig(cfg, "true")
	ec.Cwd = "/nonexistent"
	if _, err := Exec(context.Background(), p.Pid, ec); !errors.As(err, &se) || se.ExitCode() != 126 || !strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("missing working directory: %v", err)
	}
	ec = execConfig(cfg, "true")
	ec.User = "ghost"
	if _, err := Exec(context.Background(), p.Pid, ec); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("unknown user: %v", err)
	}

	// A signal kills it: 128+signal.
	ep, err := Exec(context.Background(), p.Pid, execConfig(cfg, "sleep", "10"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, _ := ep.Wait(); code != 137 {
		t.Errorf("killed exec: code %d, want 137", code)
	}
}

func TestLinuxExecTty(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := build(t, spec(t, "sleep", "30"))
	p := started(t, cfg)

	var buf bytes.Buffer
	ec := execConfig(cfg, "sh", "-c", "tty; stty size; ls -l $(tty) | awk '{print $3}'; exit 3")
	ec.Tty, ec.Rows, ec.Cols = true, 40, 120
	ec.User = "app"
	ec.Stdout = &buf
	ep, err := Exec(context.Background(), p.Pid, ec)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ep.Wait()
	if err != nil || code != 3 {
		t.Fatalf("code %d err %v: %q", code, err, buf.String())
	}
	out := strings.ReplaceAll(buf.String(), "\r", "")
	if !strings.HasPrefix(out, "/dev/pts/") || !strings.Contains(out, "\n40 120\n") || !strings.Contains(out, "\napp\n") {
		t.Fatalf("tty output %q", out)
	}

	// Resize reaches the process, and input typed into the terminal too.
	pr, pw := io.Pipe()
	var out2 bytes.Buffer
	ec = execConfig(cfg, "sh", "-c", "read x; stty size; echo got=$x")
	ec.Tty, ec.Stdin, ec.Stdout = true, pr, &out2
	ep, err = Exec(context.Background(), p.Pid, ec)
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Resize(25, 80); err != nil {
		t.Fatal(err)
	}
	_, _ = pw.Write([]byte("hello\n"))
	if code, _ := ep.Wait(); code != 0 {
		t.Fatalf("code %d: %q", code, out2.String())
	}
	pw.Close()
	if s := strings.ReplaceAll(out2.String(), "\r", ""); !strings.Contains(s, "25 80\ngot=hello") {
		t.Fatalf("output %q", s)
	}
}

func TestLinuxStartTty(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", "tty; stty size; ls -l /dev/console | cut -c1")
	in.Tty, in.ConsoleRows, in.ConsoleCols = true, 33, 101
	p, err := Start(context.Background(), build(t, in), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Console == nil {
		t.Fatal("no console")
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, p.Console); close(done) }()
	st, err := p.Wait()
	if err != nil || st.Code != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	p.Console.Close()
	out := strings.ReplaceAll(buf.String(), "\r", "")
	// The size is the console's from the first instruction (stty size
	// printed "0 0" or failed before the process could see a resize).
	if !strings.HasPrefix(out, "/dev/pts/0\n33 101\n") || !strings.Contains(out, "\nc\n") {
		t.Fatalf("output %q", out)
	}
}

func TestLinuxInitReapsAndForwards(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// The orphaned sleep is reparented to PID 1: the init must reap it.
	in := spec(t, "sh", "-c", `(sleep 0.1 &); trap "echo got-term; exit 7" TERM; while true; do sleep 0.05; done`)
	in.Init = true
	cfg := build(t, in)
	r, w, _ := os.Pipe()
	p, err := Start(context.Background(), cfg, StartOptions{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.Sleep(400 * time.Millisecond)
	// A zombie whose parent is the init (PID 1) is the failure; the
	// shell's own `sleep 0.05` children are zombies for a moment until the
	// shell waits for them, which a loaded machine can catch, so look a
	// few times.
	var out string
	for try := 0; ; try++ {
		out, _ = execOut(t, p.Pid, execConfig(cfg, "ps", "-o", "pid,ppid,stat,comm"))
		if !initZombie(out) {
			break
		}
		if try == 10 {
			t.Errorf("zombie left with the init as parent:\n%s", out)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "    1 ") {
		t.Errorf("ps:\n%s", out)
	}
	if ok, err := HandlesSignal(p.Pid, syscall.SIGTERM); err != nil || !ok {
		t.Errorf("init does not handle SIGTERM: %v %v", ok, err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil || st.Code != 7 {
		t.Fatalf("status %+v %v", st, err)
	}
	b, _ := io.ReadAll(r)
	if !strings.Contains(string(b), "got-term") {
		t.Fatalf("the child did not get SIGTERM: %q", b)
	}
}

func TestLinuxInitAsUser(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// The init drops to the user (and its filter) before forking, as
	// docker-init does; the exit status is the child's.
	in := spec(t, "sh", "-c", "id -u; grep -E '^(Uid|Seccomp):' /proc/1/status | tr -s '\t' ' '; exit 5")
	in.Init, in.User = true, "app"
	out, code := run(t, build(t, in))
	if code != 5 || !strings.Contains(out, "1000\nUid: 1000 1000 1000 1000\nSeccomp: 2\n") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

func TestLinuxHandlesSignal(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// sleep as PID 1 has no handler: the kernel drops SIGTERM.
	p := started(t, build(t, spec(t, "sleep", "30")))
	ok, err := HandlesSignal(p.Pid, syscall.SIGTERM)
	if err != nil || ok {
		t.Fatalf("sleep: handles SIGTERM = %v, %v", ok, err)
	}
	if ok, _ := HandlesSignal(p.Pid, syscall.SIGKILL); !ok {
		t.Fatal("SIGKILL must always count as handled")
	}
	q := started(t, build(t, spec(t, "sh", "-c", `trap "exit 0" TERM; echo ready; while true; do sleep 0.05; done`)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := HandlesSignal(q.Pid, syscall.SIGTERM)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("trap never showed in SigCgt")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := HandlesSignal(1<<30, syscall.SIGTERM); err == nil {
		t.Fatal("no error for a missing process")
	}
}

// initZombie reports whether ps output (pid,ppid,stat,comm) lists a zombie
// whose parent is PID 1.
func initZombie(ps string) bool {
	for _, line := range strings.Split(ps, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "1" && strings.HasPrefix(f[2], "Z") {
			return true
		}
	}
	return false
}

// TestLinuxExecLeavesMainThread: execs taint the thread they run on for
// good; the process's main thread, which Go parks instead of ending, must
// never be one of them, or /proc/self (the main thread's view) describes
// the container's mounts from then on.
func TestLinuxExecLeavesMainThread(t *testing.T) {
	requireRoot(t)
	cfg := build(t, spec(t, "sleep", "30"))
	p := started(t, cfg)
	before, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if _, code := execOut(t, p.Pid, execConfig(cfg, "true")); code != 0 {
			t.Fatalf("exec true: %d", code)
		}
		if now, _ := os.Readlink("/proc/self/ns/mnt"); now != before {
			t.Fatalf("the main thread is in the container's mount namespace (%s, was %s)", now, before)
		}
	}
}
