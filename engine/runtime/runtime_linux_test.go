package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestLinuxNamespaces(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", `echo pid=$$; ls -d /proc/[0-9]*; hostname; cat /proc/sys/kernel/domainname; ls /sys/class/net`)
	in.Domainname = "example.test"
	out, code := run(t, build(t, in))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	// sh is PID 1 and sees at most itself and ls (busybox may run ls in
	// process): nothing of the host.
	got := strings.Join(strings.Fields(out), " ")
	if got != "pid=1 /proc/1 ctr example.test lo" && got != "pid=1 /proc/1 /proc/2 ctr example.test lo" {
		t.Fatalf("got %q", got)
	}
}

func TestLinuxMounts(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	out, code := run(t, build(t, spec(t, "cat", "/proc/self/mounts")))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"proc /proc proc rw,nosuid,nodev,noexec",
		"tmpfs /dev tmpfs rw,nosuid",
		"devpts /dev/pts devpts rw,nosuid,noexec",
		"shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k",
		"mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec",
		"sysfs /sys sysfs ro,nosuid,nodev,noexec",
		"proc /proc/sys proc ro,",
		"tmpfs /sys/firmware tmpfs ro",
		"/proc/keys",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mounts lack %q:\n%s", want, out)
		}
	}
	out, code = run(t, build(t, spec(t, "sh", "-c",
		`ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | cut -c1-10; readlink /dev/fd; readlink /dev/ptmx; wc -c < /proc/keys; touch /sys/x; echo 1 > /proc/sys/kernel/shmmni`)))
	for _, want := range []string{"crw-rw-rw-", "/proc/self/fd", "pts/ptmx", "\n0\n", "Read-only file system"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code == 0 {
		t.Errorf("writing /proc/sys succeeded: %s", out)
	}
}

func TestLinuxNotFound(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	_, _, err := tryRun(t, build(t, spec(t, "nosuch")))
	var se *StartError
	if !errors.As(err, &se) || se.ExitCode() != 127 || !errdefs.IsNotFound(err) {
		t.Fatalf("err = %v, want a 127 StartError", err)
	}
	if want := `exec: "nosuch": executable file not found in $PATH`; se.Error() != want {
		t.Fatalf("message %q, want %q", se.Error(), want)
	}
	_, _, err = tryRun(t, build(t, spec(t, "/etc/passwd")))
	if !errors.As(err, &se) || se.ExitCode() != 126 {
		t.Fatalf("err = %v, want a 126 StartError", err)
	}
	_, _, err = tryRun(t, build(t, spec(t, "/etc")))
	if !errors.As(err, &se) || se.ExitCode() != 126 {
		t.Fatalf("err = %v, want a 126 StartError", err)
	}
}
