package volumes_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
)

// The end-to-end tests drive the berth binary (built once from this
// checkout, or $BERTH_BIN) on a throwaway root, as a user would: up, exec,
// down, down -v. They need root and the fixture registry.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// berthBinary builds cmd/berth once per test process.
func berthBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("BERTH_BIN"); p != "" {
			binPath = p
			return
		}
		binDir, binErr = os.MkdirTemp("", "berth-volumes-e2e-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "berth")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/berthdev/berth/cmd/berth").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// stack is one compose project run by the berth binary on its own root.
type stack struct {
	t       *testing.T
	bin     string
	root    string
	dir     string
	project string
}

// newStack writes compose into a new project directory. Projects of one
// test may share a root (root != "").
func newStack(t *testing.T, root, project, compose string) *stack {
	t.Helper()
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	if root == "" {
		root = newRoot(t)
	}
	dir := filepath.Join(t.TempDir(), project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, bin: berthBinary(t), root: root, dir: dir, project: project}
	t.Cleanup(func() { _, _ = s.run("down", "-v", "--remove-orphans", "-t", "1") })
	return s
}

// run runs `berth --root R -p P <args>` in the project directory.
func (s *stack) run(args ...string) (string, error) {
	s.t.Helper()
	cmd := exec.Command(s.bin, append([]string{"--root", s.root, "-p", s.project, "--progress", "plain"}, args...)...)
	cmd.Dir = s.dir
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "COMPOSE_") && !strings.HasPrefix(e, "BERTH_") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	s.t.Logf("berth %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		return out.String(), fmt.Errorf("berth %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), nil
}

// must runs berth and fails the test on error.
func (s *stack) must(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// sh runs a shell command in the service's container and returns its output.
func (s *stack) sh(service, script string) string {
	s.t.Helper()
	return s.must("exec", "-T", service, "sh", "-c", script)
}

// volumeNames lists the names of the root's volumes.
func (s *stack) volumeNames() []string {
	s.t.Helper()
	out := s.must("volume", "ls", "-q")
	return strings.Fields(out)
}

// volumeData is the host directory of a named volume's content.
func (s *stack) volumeData(name string) string {
	return filepath.Join(s.root, "volumes", name, "_data")
}

const busyboxApp = `
services:
  app:
    image: 127.0.0.1:5000/busybox:1
    command: [sleep, "3600"]
    init: true
    volumes:
      - data:/data
      - ./host:/host
      - /anon
volumes:
  data: {}
`

// TestE2EVolumeDataSurvives: data written in a named volume survives a
// restart, up --force-recreate (the anonymous volume too, as docker
// compose keeps it), down and up; down -v removes the project's volumes
// and never the bind source.
func TestE2EVolumeDataSurvives(t *testing.T) {
	s := newStack(t, "", "surv"+randHex(3), busyboxApp)
	s.must("up", "-d")
	s.sh("app", "echo named > /data/f && echo bound > /host/f && echo anon > /anon/f")
	vol := s.project + "_data"
	if got := readFile(t, filepath.Join(s.volumeData(vol), "f")); got != "named\n" {
		t.Fatalf("named volume on the host: %q", got)
	}
	if got := readFile(t, filepath.Join(s.dir, "host", "f")); got != "bound\n" {
		t.Fatalf("bind source on the host: %q", got)
	}
	out := s.must("volume", "inspect", "-f", `{{index .Labels "com.docker.compose.project"}} {{index .Labels "com.docker.compose.volume"}}`, vol)
	if out != s.project+" data\n" {
		t.Fatalf("volume labels: %q", out)
	}

	if got := s.must("volumes", "-q"); got != vol+"\n" {
		t.Fatalf("berth volumes: %q", got)
	}
	if got := s.must("volumes", "-q", "app"); got != vol+"\n" {
		t.Fatalf("berth volumes app: %q", got)
	}
	s.must("restart", "-t", "1")
	if got := s.sh("app", "cat /data/f /anon/f"); got != "named\nanon\n" {
		t.Fatalf("after restart: %q", got)
	}
	s.must("up", "-d", "--force-recreate", "-t", "1")
	if got := s.sh("app", "cat /data/f /anon/f /host/f"); got != "named\nanon\nbound\n" {
		t.Fatalf("after up --force-recreate: %q", got)
	}
	if anon := anonymousVolumes(t, s); len(anon) != 1 {
		t.Fatalf("anonymous volumes after recreate: %v (the previous one must be reused, not doubled)", anon)
	}

	s.must("down", "-t", "1")
	if !slices.Contains(s.volumeNames(), vol) {
		t.Fatalf("down removed the volume: %v", s.volumeNames())
	}
	s.must("up", "-d")
	if got := s.sh("app", "cat /data/f"); got != "named\n" {
		t.Fatalf("after down and up: %q", got)
	}

	s.must("down", "-v", "-t", "1")
	if left := s.volumeNames(); len(left) != 0 {
		t.Fatalf("down -v left volumes: %v", left)
	}
	if _, err := os.Stat(s.volumeData(vol)); !os.IsNotExist(err) {
		t.Fatalf("volume data left on disk: %v", err)
	}
	if got := readFile(t, filepath.Join(s.dir, "host", "f")); got != "bound\n" {
		t.Fatalf("down -v touched the bind source: %q", got)
	}
}

// anonymousVolumes lists the root's anonymous volumes.
func anonymousVolumes(t *testing.T, s *stack) []string {
	t.Helper()
	return strings.Fields(s.must("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"))
}

// TestE2EProjectsApart: two projects with a volume of the same key get two
// volumes and never see each other's data; down -v of one keeps the other.
func TestE2EProjectsApart(t *testing.T) {
	root := newRoot(t)
	suffix := randHex(3)
	a := newStack(t, root, "pa"+suffix, busyboxApp)
	b := newStack(t, root, "pb"+suffix, busyboxApp)
	a.must("up", "-d")
	b.must("up", "-d")
	a.sh("app", "echo A > /data/who")
	b.sh("app", "echo B > /data/who")
	if got := a.sh("app", "cat /data/who"); got != "A\n" {
		t.Fatalf("project a reads %q", got)
	}
	if got := b.sh("app", "cat /data/who"); got != "B\n" {
		t.Fatalf("project b reads %q", got)
	}
	a.must("down", "-v", "-t", "1")
	names := b.volumeNames()
	if !slices.Contains(names, b.project+"_data") || slices.Contains(names, a.project+"_data") {
		t.Fatalf("volumes after a's down -v: %v", names)
	}
	if got := b.sh("app", "cat /data/who"); got != "B\n" {
		t.Fatalf("project b after a's down -v reads %q", got)
	}
}

// TestE2EVolumeInUse: volume rm refuses a volume a container uses, naming
// the container, unless forced; prune skips it.
func TestE2EVolumeInUse(t *testing.T) {
	s := newStack(t, "", "use"+randHex(3), busyboxApp)
	s.must("up", "-d")
	vol := s.project + "_data"
	_, err := s.run("volume", "rm", vol)
	if err == nil || !strings.Contains(err.Error(), s.project+"-app-1") {
		t.Fatalf("rm of a volume in use: %v", err)
	}
	s.must("volume", "prune", "-f", "--all")
	if !slices.Contains(s.volumeNames(), vol) {
		t.Fatal("prune removed a volume in use")
	}
	s.must("down", "-t", "1")
	if out := s.must("volume", "prune", "-f", "--all"); !strings.Contains(out, vol) {
		t.Fatalf("prune of an unused volume: %q", out)
	}
}

// TestE2EMountKinds: read-only binds, tmpfs in both syntaxes with size and
// mode, and volumes_from (read-only) sharing a named and an anonymous
// volume, in real containers.
func TestE2EMountKinds(t *testing.T) {
	s := newStack(t, "", "kinds"+randHex(3), `
services:
  app:
    image: 127.0.0.1:5000/busybox:1
    command: [sleep, "3600"]
    init: true
    volumes:
      - data:/data
      - ./conf:/conf:ro
      - /anon
      - {type: tmpfs, target: /t2, tmpfs: {size: 2m}}
    tmpfs: ["/t1:size=1m,mode=0700"]
  reader:
    image: 127.0.0.1:5000/busybox:1
    command: [sleep, "3600"]
    init: true
    depends_on: [app]
    volumes_from: ["app:ro"]
volumes:
  data: {}
`)
	if err := os.MkdirAll(filepath.Join(s.dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "conf", "app.ini"), []byte("k=v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must("up", "-d")
	s.sh("app", "echo shared > /data/f && echo anon > /anon/f")
	if got := s.sh("app", "cat /conf/app.ini; touch /conf/x 2>/dev/null && echo writable || echo read-only"); got != "k=v\nread-only\n" {
		t.Fatalf("read-only bind: %q", got)
	}
	mounts := s.sh("app", "grep -E ' /t[12] ' /proc/mounts; stat -c '%n %a' /t1")
	for _, want := range []string{"tmpfs /t1 tmpfs rw,nosuid,nodev,noexec", "size=1024k", "tmpfs /t2 tmpfs", "size=2048k", "/t1 700"} {
		if !strings.Contains(mounts, want) {
			t.Fatalf("tmpfs mounts lack %q:\n%s", want, mounts)
		}
	}
	if got := s.sh("reader", "cat /data/f /anon/f; touch /data/x 2>/dev/null && echo writable || echo read-only"); got != "shared\nanon\nread-only\n" {
		t.Fatalf("volumes_from app:ro: %q", got)
	}
	if got := s.sh("reader", "[ -d /t1 ] && echo has-t1 || echo no-t1"); got != "no-t1\n" {
		t.Fatalf("volumes_from shared a tmpfs: %q", got)
	}
}
