package runtime

import (
	"errors"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
)

func statusField(out, key string) string {
	m := regexp.MustCompile(`(?m)^` + key + `:\s*(\S+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestLinuxCapabilitiesAndSeccomp(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// Behaviour, not exit codes: busybox applets sometimes exit 0 on EPERM.
	script := `cat /proc/self/status; mount -t tmpfs t /mnt && echo MOUNTED; unshare -n true && echo UNSHARED; ` +
		`unshare -U true && echo USERNS; chown 1000 /tmp && echo CHOWN_OK; grep -c tmpfs /proc/self/mounts`
	out, _ := run(t, build(t, spec(t, "sh", "-c", script)))
	for key, want := range map[string]string{
		"CapEff": "00000000a80425fb", "CapPrm": "00000000a80425fb", "CapBnd": "00000000a80425fb",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000",
		"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "0",
	} {
		if got := statusField(out, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, bad := range []string{"MOUNTED", "UNSHARED", "USERNS"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: the default profile let it through:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "CHOWN_OK") {
		t.Errorf("chown, allowed by docker's defaults, failed:\n%s", out)
	}

	// no-new-privileges, cap_drop ALL + cap_add, and unconfined seccomp.
	in := spec(t, "cat", "/proc/self/status")
	in.SecurityOpt = []string{"no-new-privileges", "seccomp=unconfined"}
	in.CapDrop = []string{"ALL"}
	in.CapAdd = []string{"net_bind_service", "CAP_KILL"}
	out, _ = run(t, build(t, in))
	for key, want := range map[string]string{
		"NoNewPrivs": "1", "Seccomp": "0", "CapEff": "0000000000000420", "CapBnd": "0000000000000420",
	} {
		if got := statusField(out, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}

	// Privileged: every capability, no filter, writable /sys, no masks.
	in = spec(t, "sh", "-c", "cat /proc/self/status; mount -t tmpfs t /mnt && echo MOUNTED; grep ' /sys ' /proc/self/mounts")
	in.Privileged = true
	out, _ = run(t, build(t, in))
	if statusField(out, "Seccomp") != "0" || !strings.Contains(out, "MOUNTED") || !strings.Contains(out, "sysfs /sys sysfs rw") {
		t.Errorf("privileged container is confined:\n%s", out)
	}
	if statusField(out, "CapEff") == "00000000a80425fb" {
		t.Errorf("privileged container has the default capabilities")
	}
}

func TestLinuxSeccompNoNewPrivsOrder(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// With no_new_privs the filter is loaded last, after the user switch:
	// a non-root user must still get it.
	in := spec(t, "cat", "/proc/self/status")
	in.User = "app"
	in.SecurityOpt = []string{"no-new-privileges:true"}
	out, _ := run(t, build(t, in))
	if statusField(out, "Seccomp") != "2" || statusField(out, "NoNewPrivs") != "1" || statusField(out, "CapEff") != "0000000000000000" {
		t.Fatalf("status:\n%s", out)
	}
}

func TestLinuxUser(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tests := []struct {
		user     string
		groupAdd []string
		want     string
	}{
		{"", nil, "uid=0(root) gid=0(root) groups=0(root) HOME=/root"},
		{"app", nil, "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra) HOME=/home/app"},
		{"app:more", nil, "uid=1000(app) gid=3000(more) groups=3000(more) HOME=/home/app"},
		{"1234:5678", nil, "uid=1234 gid=5678 groups=5678 HOME=/"},
		{"app", []string{"more", "4242"}, "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000(more),4242 HOME=/home/app"},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			in := spec(t, "sh", "-c", `echo $(id) HOME=$HOME`)
			in.User, in.GroupAdd = tc.user, tc.groupAdd
			out, code := run(t, build(t, in))
			if code != 0 || strings.TrimSpace(out) != tc.want {
				t.Fatalf("exit %d, got %q, want %q", code, strings.TrimSpace(out), tc.want)
			}
		})
	}
	in := spec(t, "true")
	in.User = "ghost"
	_, _, err := tryRun(t, build(t, in))
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "unable to find user ghost") {
		t.Fatalf("unknown user: err = %v", err)
	}
}

func TestLinuxRlimits(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
	in.Ulimits = []Ulimit{{Name: "nofile", Soft: 1234, Hard: 2345}, {Name: "nproc", Soft: 77, Hard: 77}}
	out, _ := run(t, build(t, in))
	if got := strings.Fields(out); strings.Join(got, " ") != "1234 2345 77" {
		t.Fatalf("limits %q", got)
	}
	// Without ulimits: the default nofile.
	out, _ = run(t, build(t, spec(t, "sh", "-c", "ulimit -n")))
	if strings.TrimSpace(out) != "1024" {
		t.Fatalf("default nofile %q", out)
	}
}

// TestRlimitsAboveHardLimit checks the error a user gets when berth may not
// raise a limit: it drops CAP_SYS_RESOURCE on a locked thread that is
// thrown away afterwards.
func TestRlimitsAboveHardLimit(t *testing.T) {
	requireRoot(t)
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread is tainted
		c, err := capability.NewPid2(0)
		if err == nil {
			err = c.Load()
		}
		if err != nil {
			errc <- err
			return
		}
		c.Unset(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE)
		if err := c.Apply(capability.CAPS); err != nil {
			errc <- err
			return
		}
		_, err = Rlimits([]Ulimit{{Name: "nofile", Soft: 1024, Hard: 1 << 40}})
		errc <- err
	}()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "nofile") || !strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
		t.Fatalf("err = %v, want one naming nofile and CAP_SYS_RESOURCE", err)
	}
}

func TestLinuxSysctls(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward")
	in.Sysctls = map[string]string{"kernel.shmmni": "1234", "net.ipv4.ip_forward": "1"}
	out, _ := run(t, build(t, in))
	if got := strings.Fields(out); strings.Join(got, " ") != "1234 1" {
		t.Fatalf("sysctls %q", got)
	}
	in.Sysctls = map[string]string{"kernel.panic": "1"}
	if _, err := BuildConfig(in); err == nil || !strings.Contains(err.Error(), "not namespaced") {
		t.Fatalf("kernel.panic: err = %v", err)
	}
	in.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
	in.Net = NamespaceHost
	if _, err := BuildConfig(in); err == nil || !strings.Contains(err.Error(), "network namespace") {
		t.Fatalf("net.* with host network: err = %v", err)
	}
}
