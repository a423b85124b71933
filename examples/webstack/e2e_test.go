package webstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/examples/internal/berthtest"
)

// bin is the berth binary TestMain builds (only when the end-to-end test
// can run: as root, not -short).
var bin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 && !isShort() {
			dir, err := os.MkdirTemp("", "berth-e2e-bin")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			if bin, err = berthtest.Build(dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func isShort() bool {
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// TestWebstackE2E runs the example stack: HTTP from the host through
// nginx to the API to PostgreSQL and back; rows survive down/up; a second
// up changes nothing; down -v leaves nothing behind.
func TestWebstackE2E(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	if bin == "" {
		t.Skip("berth binary not built")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	suffix := randomHex(4)
	project := "e2e" + suffix
	port := freePort(t)
	b := &berthtest.Berth{Bin: bin, Root: root, Project: project,
		Files: []string{filepath.Join(here, "compose.yaml")}, Env: []string{"WEB_PORT=" + strconv.Itoa(port)}}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b.Run(c, "down", "-v", "-t", "1")
	})

	importAPIImage(t, ctx, b)

	b.Must(t, ctx, "up", "-d", "--wait")
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if page := get(t, base); !strings.Contains(page, "berth webstack") {
		t.Fatalf("GET / did not serve the static page:\n%s", page)
	}
	items := getItems(t, base)
	if len(items) < 3 || items[0].Name != "berth" {
		t.Fatalf("GET /api/items: %+v, want the 3 seeded rows", items)
	}
	row := "e2e-" + suffix
	post(t, base+"api/items?name="+row)

	// A second up is a no-op.
	r := b.Must(t, ctx, "up", "-d")
	for _, word := range []string{"Recreate", "Creating", "Created"} {
		if strings.Contains(r.Stderr, word) {
			t.Errorf("second up did %q:\n%s", word, r.Stderr)
		}
	}

	// down keeps the volume: the row survives.
	ids := containerIDs(t, ctx, b)
	b.Must(t, ctx, "down")
	if out := b.Must(t, ctx, "ps", "-a", "-q").Stdout; strings.TrimSpace(out) != "" {
		t.Fatalf("containers left after down: %s", out)
	}
	if _, err := http.Get(base); err == nil {
		t.Fatalf("web still answers after down")
	}
	b.Must(t, ctx, "up", "-d", "--wait")
	found := false
	for _, it := range getItems(t, base) {
		found = found || it.Name == row
	}
	if !found {
		t.Fatalf("row %q did not survive down/up", row)
	}

	// down -v leaves nothing of the project.
	ids = append(ids, containerIDs(t, ctx, b)...)
	bridges := projectBridges(t, root)
	veths := vethsOf(bridges)
	b.Must(t, ctx, "down", "-v")
	checkNothingLeft(t, root, project, port, ids, bridges, veths)
}

// importAPIImage builds the API statically and imports it as the image
// the compose file names, as demo.sh does.
func importAPIImage(t *testing.T, ctx context.Context, b *berthtest.Berth) {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(rootfs, "api"), "./examples/webstack/api")
	build.Dir = berthtest.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build api: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.CommandContext(ctx, "tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	imp := &berthtest.Berth{Bin: b.Bin, Root: b.Root}
	imp.Must(t, ctx, "image", "import", "--change", `CMD ["/api"]`, "--change", "EXPOSE 8080",
		tarball, "berth-example/webstack-api:dev")
}

func containerIDs(t *testing.T, ctx context.Context, b *berthtest.Berth) []string {
	t.Helper()
	return strings.Fields(b.Must(t, ctx, "ps", "-a", "-q").Stdout)
}

// projectBridges reads the bridges of the root's networks from the
// network manager's state files.
func projectBridges(t *testing.T, root string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "networks", "*.json"))
	var out []string
	for _, f := range files {
		var n struct {
			Bridge string `json:"bridge"`
		}
		data, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(data, &n) != nil || n.Bridge == "" {
			continue
		}
		out = append(out, n.Bridge)
	}
	if len(out) == 0 {
		t.Errorf("no bridge found in %s/networks", root)
	}
	return out
}

// vethsOf lists the host interfaces enslaved to the bridges.
func vethsOf(bridges []string) []string {
	var out []string
	for _, br := range bridges {
		ents, _ := os.ReadDir(filepath.Join("/sys/class/net", br, "brif"))
		for _, e := range ents {
			out = append(out, e.Name())
		}
	}
	return out
}

func checkNothingLeft(t *testing.T, root, project string, port int, ids, bridges, veths []string) {
	t.Helper()
	for _, l := range append(bridges, veths...) {
		if _, err := os.Stat(filepath.Join("/sys/class/net", l)); err == nil {
			t.Errorf("link %s left after down -v", l)
		}
	}
	if out, err := exec.Command("nft", "list", "ruleset").Output(); err == nil {
		rules := string(out)
		if strings.Contains(rules, "dport "+strconv.Itoa(port)+" ") {
			t.Errorf("nftables rule for port %d left after down -v", port)
		}
		for _, id := range ids {
			if len(id) >= 12 && strings.Contains(rules, id[:12]) {
				t.Errorf("nftables rule of container %s left after down -v", id[:12])
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, root) {
			t.Errorf("mount left after down -v: %s", line)
		}
	}
	for _, h := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		cgs, _ := filepath.Glob(filepath.Join(h, "*", "berth", project))
		cgs2, _ := filepath.Glob(filepath.Join(h, "berth", project))
		for _, cg := range append(cgs, cgs2...) {
			t.Errorf("cgroup left after down -v: %s", cg)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), "/berth/"+project+"/") {
			t.Errorf("process %s of the project left after down -v", filepath.Base(filepath.Dir(p)))
		}
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if strings.Contains(string(data), id) {
				t.Errorf("process %s (%q) of container %s left after down -v", filepath.Base(filepath.Dir(p)),
					strings.ReplaceAll(string(data), "\x00", " "), id)
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) > 0 {
		t.Errorf("container state left after down -v: %d entries in %s/containers", len(ents), root)
	}
	vols, _ := os.ReadDir(filepath.Join(root, "volumes"))
	for _, v := range vols {
		if strings.HasPrefix(v.Name(), project+"_") {
			t.Errorf("volume %s left after down -v", v.Name())
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}

func getItems(t *testing.T, base string) []item {
	t.Helper()
	var items []item
	body := get(t, base+"api/items")
	if err := json.Unmarshal([]byte(body), &items); err != nil {
		t.Fatalf("GET /api/items: %v\n%s", err, body)
	}
	return items
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s\n%s", url, resp.Status, body)
	}
}
