package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/devrule"
)

func TestCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		add, drop []string
		want      []string
		err       bool
	}{
		{"default", nil, nil, DefaultCapabilities, false},
		{"drop and add", []string{"sys_admin"}, []string{"CAP_CHOWN", "net_raw"}, nil, false},
		{"drop all add one", []string{"NET_BIND_SERVICE"}, []string{"ALL"}, []string{"CAP_NET_BIND_SERVICE"}, false},
		{"unknown", []string{"FLY"}, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Capabilities(tc.add, tc.drop, false)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if tc.err {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("error kind: %v", err)
				}
				return
			}
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if tc.name == "drop and add" {
				if slices.Contains(got, "CAP_CHOWN") || slices.Contains(got, "CAP_NET_RAW") || !slices.Contains(got, "CAP_SYS_ADMIN") || len(got) != 13 {
					t.Fatalf("got %v", got)
				}
			}
		})
	}
	all, _ := Capabilities([]string{"ALL"}, []string{"MKNOD"}, false)
	if slices.Contains(all, "CAP_MKNOD") || !slices.Contains(all, "CAP_KILL") || len(all) < 30 {
		t.Fatalf("ALL minus MKNOD: %v", all)
	}
}

func TestValidateSysctls(t *testing.T) {
	own := Namespaces{NewNet: true, NewIPC: true, NewUTS: true}
	tests := []struct {
		key  string
		ns   Namespaces
		want string // "" = accepted
	}{
		{"kernel.shmmax", own, ""},
		{"fs.mqueue.msg_max", own, ""},
		{"net.core.somaxconn", own, ""},
		{"kernel.domainname", own, ""},
		{"net.core.somaxconn", Namespaces{NewIPC: true}, "network namespace"},
		{"kernel.shmmax", Namespaces{NewNet: true}, "IPC namespace"},
		{"kernel.hostname", own, "use hostname"},
		{"vm.swappiness", own, "not namespaced"},
		{"net/../../etc", own, "invalid name"},
		{"net..x", own, "invalid name"},
	}
	for _, tc := range tests {
		err := ValidateSysctls(map[string]string{tc.key: "1"}, tc.ns)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.key, err, tc.want)
		}
	}
}

func TestHostDevices(t *testing.T) {
	devs, rules, err := HostDevices([]DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", Permissions: "rw"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Path != "/dev/mynull" || devs[0].Type != 'c' || devs[0].Major != 1 || devs[0].Minor != 3 {
		t.Fatalf("devices %+v", devs)
	}
	if len(rules) != 1 || rules[0].String() != "c 1:3 rw" {
		t.Fatalf("rules %+v", rules)
	}
	if _, _, err := HostDevices([]DeviceMapping{{PathOnHost: "/dev/nosuchdevice"}}); !errdefs.IsNotFound(err) {
		t.Fatalf("missing device: %v", err)
	}
	if _, _, err := HostDevices([]DeviceMapping{{PathOnHost: "/etc/passwd"}}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("not a device: %v", err)
	}
}

func TestBuildConfig(t *testing.T) {
	in := SpecInput{ID: "c", RootfsDir: "/r", Args: []string{"sh"}, Hostname: "h",
		SecurityOpt:       []string{"no-new-privileges", "apparmor=unconfined"},
		DeviceCgroupRules: []string{"c 42:* rmw"}}
	cfg, err := BuildConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NoNewPrivs || len(cfg.Seccomp) == 0 || !slices.Equal(cfg.MaskedPaths, DefaultMaskedPaths) ||
		!cfg.Namespaces.NewPID || !cfg.Namespaces.NewNet || cfg.Cwd != "/" {
		t.Fatalf("config %+v", cfg)
	}
	if !slices.Contains(cfg.Env, "HOSTNAME=h") || !slices.Contains(cfg.Env, "PATH="+DefaultPath) {
		t.Fatalf("env %v", cfg.Env)
	}
	// The whole list the cgroup gets after its deny-all: docker's defaults,
	// each once, then device_cgroup_rules.
	if want := append(devrule.Defaults(), DeviceRule{Allow: true, Type: 'c', Major: 42, Minor: -1, Access: "rmw"}); !slices.Equal(cfg.DeviceRules, want) {
		t.Fatalf("device rules %v\nwant %v", cfg.DeviceRules, want)
	}
	in.Privileged = true
	if cfg, err = BuildConfig(in); err != nil || !slices.Equal(cfg.DeviceRules, []DeviceRule{devrule.AllowAll}) {
		t.Fatalf("privileged device rules %v, %v", cfg.DeviceRules, err)
	}
	in.Privileged = false
	in.Net = "/proc/123/ns/net"
	in.PID = NamespaceHost
	cfg, err = BuildConfig(in)
	if err != nil || cfg.Namespaces.NewNet || cfg.Namespaces.JoinNet != "/proc/123/ns/net" || cfg.Namespaces.NewPID {
		t.Fatalf("namespaces %+v %v", cfg.Namespaces, err)
	}
	bad := []struct {
		mod  func(*SpecInput)
		want string
	}{
		{func(s *SpecInput) { s.Args = nil }, "no command"},
		{func(s *SpecInput) { s.Cwd = "rel" }, "absolute path"},
		{func(s *SpecInput) { s.SecurityOpt = []string{"seccomp"} }, "seccomp needs"},
		{func(s *SpecInput) { s.SecurityOpt = []string{"bogus=1"} }, "not supported"},
		{func(s *SpecInput) { s.Ulimits = []Ulimit{{Name: "nofile", Soft: 10, Hard: 5}} }, "soft limit"},
		{func(s *SpecInput) { s.Ulimits = []Ulimit{{Name: "bogus"}} }, "unknown limit"},
		{func(s *SpecInput) { s.IPC = "weird" }, "ipc mode"},
		{func(s *SpecInput) { s.DeviceCgroupRules = []string{"c 1:3 rwx"} }, "device_cgroup_rules"},
		{func(s *SpecInput) { s.Devices = []DeviceMapping{{PathOnHost: "/dev/null", Permissions: "rr"}} }, "permissions"},
	}
	for _, b := range bad {
		in := SpecInput{Args: []string{"sh"}}
		b.mod(&in)
		if _, err := BuildConfig(in); err == nil || !strings.Contains(err.Error(), b.want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("want %q: %v", b.want, err)
		}
	}
}

func TestCheckSymlinks(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "a/b"), 0o755))
	must(t, os.Symlink("/a", filepath.Join(root, "abs")))
	must(t, os.Symlink("b", filepath.Join(root, "a/rel")))
	must(t, os.Symlink("../../..", filepath.Join(root, "a/up")))
	must(t, os.Symlink("../a", filepath.Join(root, "a/side")))
	must(t, os.Symlink("loop", filepath.Join(root, "loop")))
	for target, ok := range map[string]bool{
		"/a/b/c":      true,
		"/abs/b":      true,
		"/a/rel/x":    true,
		"/a/side/b":   true,
		"/../../a":    true, // ".." in the target itself stays at the root
		"/a/up/etc":   false,
		"/abs/up/etc": false,
		"/loop/x":     false,
	} {
		if err := checkSymlinks(root, target); (err == nil) != ok {
			t.Errorf("%s: err = %v", target, err)
		}
	}
}

func TestParseMountOptions(t *testing.T) {
	flags, data, prop, err := parseMountOptions(Mount{Type: "tmpfs", Options: []string{"size=1m", "exec"}})
	if err != nil || flags&unix.MS_NOEXEC != 0 || flags&unix.MS_NOSUID == 0 || !slices.Equal(data, []string{"size=1m", "mode=1777"}) || prop != 0 {
		t.Fatalf("tmpfs: %x %v %x %v", flags, data, prop, err)
	}
	flags, _, prop, err = parseMountOptions(Mount{Type: "bind", Options: []string{"ro", "rslave"}})
	if err != nil || flags&unix.MS_RDONLY == 0 || flags&unix.MS_REC == 0 || prop != unix.MS_SLAVE|unix.MS_REC {
		t.Fatalf("bind: %x %x %v", flags, prop, err)
	}
	if _, _, _, err := parseMountOptions(Mount{Type: "bind", Options: []string{"size=1"}}); err == nil {
		t.Fatal("bind with tmpfs option accepted")
	}
}

// TestSyscallTable checks the generated table against the library it was
// generated from (go generate ./engine/runtime after updating it).
func TestSyscallTable(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Skipf("no table for this architecture: %v", err)
	}
	if len(syscallsByName) != len(info.SyscallNames) || auditArch != uint32(info.ID) {
		t.Fatalf("table has %d syscalls, the library %d: run go generate", len(syscallsByName), len(info.SyscallNames))
	}
	for name, nr := range info.SyscallNames {
		if got, ok := syscallNumber(name); !ok || got != nr {
			t.Errorf("%s: %d %v, want %d", name, got, ok, nr)
		}
	}
}
