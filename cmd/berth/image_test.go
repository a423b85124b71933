package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testTar is an uncompressed tar of name/content pairs.
func testTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o755, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(files[i+1]))
	}
	_ = tw.Close()
	return buf.Bytes()
}

// imageRegistry starts go-containerregistry's in-process registry on
// 127.0.0.1 with the images repo:tag → Cmd, and returns its host.
func imageRegistry(t *testing.T, images map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for repoTag, cmd := range images {
		img, err := mutate.AppendLayers(empty.Image, static.NewLayer(testTar(t, "bin/"+cmd, "#!"+cmd), types.OCIUncompressedLayer))
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		cf.Config.Cmd = []string{"/bin/" + cmd}
		cf.Created = v1.Time{Time: time.Now().Add(-49 * time.Hour)}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/" + repoTag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return host
}

// TestImageCommands drives `berth image …` and `system df` in-process on a
// throwaway root against an in-process registry, checking docker's output.
func TestImageCommands(t *testing.T) {
	host := imageRegistry(t, map[string]string{"app:1": "app", "tool:2": "tool"})
	root := t.TempDir()
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	out := must("image", "pull", host+"/app:1")
	if !strings.HasSuffix(out, "\n"+host+"/app:1\n") || !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Status: Downloaded newer image for "+host+"/app:1") {
		t.Fatalf("pull output:\n%s", out)
	}
	if out := must("image", "pull", "-q", host+"/app:1"); out != host+"/app:1\n" {
		t.Fatalf("pull -q: %q", out)
	}
	must("image", "pull", "-q", host+"/tool:2")
	must("image", "tag", host+"/app:1", "myapp:dev")

	ls := must("image", "ls")
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	header := regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$`)
	row := regexp.MustCompile(`^myapp\s+dev\s+[0-9a-f]{12}\s+2 days ago\s+\d+B$`)
	if len(lines) != 4 || !header.MatchString(lines[0]) || !slicesContainMatch(lines, row) {
		t.Fatalf("image ls:\n%s", ls)
	}
	ids := strings.Fields(must("image", "ls", "-q"))
	if len(ids) != 2 {
		t.Fatalf("ls -q: %v", ids)
	}
	if out := must("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=myapp"); out != "myapp:dev\n" {
		t.Fatalf("ls --format --filter: %q", out)
	}
	if out := must("image", "inspect", "-f", "{{.Config.Cmd}} {{.Os}}", "myapp:dev"); out != "[/bin/app] linux\n" {
		t.Fatalf("inspect -f: %q", out)
	}
	var docs []map[string]any
	if err := json.Unmarshal([]byte(must("image", "inspect", "myapp:dev")), &docs); err != nil || len(docs) != 1 || docs[0]["Id"] == "" {
		t.Fatalf("inspect JSON: %v %v", docs, err)
	}
	if _, errOut, code := run("image", "inspect", "nosuch:1"); code != 1 || !strings.Contains(errOut, "no such image: nosuch:1") {
		t.Fatalf("inspect missing: %d %s", code, errOut)
	}

	archive := filepath.Join(t.TempDir(), "app.tar")
	must("image", "save", "-o", archive, "myapp:dev")
	if out := must("image", "rm", "myapp:dev"); out != "Untagged: myapp:dev\n" {
		t.Fatalf("rm of one of two tags: %q", out)
	}
	out = must("image", "rm", host+"/app:1")
	if !strings.Contains(out, "Untagged: "+host+"/app:1\n") || !strings.Contains(out, "Deleted: sha256:") {
		t.Fatalf("rm: %q", out)
	}
	if out := must("image", "load", "-i", archive); out != "Loaded image: myapp:dev\n" {
		t.Fatalf("load: %q", out)
	}

	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(rootfs, testTar(t, "api", "binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(must("image", "import", "--change", `CMD ["/api"]`, "--change", "EXPOSE 8080", "--change", "LABEL sum=abc", rootfs, "example/api:dev"))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("import printed %q", id)
	}
	if out := must("image", "inspect", "example/api:dev"); !strings.Contains(out, `"sum": "abc"`) || !strings.Contains(out, `"8080/tcp"`) {
		t.Fatalf("imported image:\n%s", out)
	}

	df := must("system", "df")
	if !regexp.MustCompile(`(?m)^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n^Images\s+3\s+0\s+\S+\s+\S+ \(100%\)$`).MatchString(df) ||
		!strings.Contains(df, "Local Volumes") || !strings.Contains(df, "Build Cache") {
		t.Fatalf("system df:\n%s", df)
	}
	out = must("image", "prune", "-a", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\n") || !strings.Contains(out, "Total reclaimed space: ") {
		t.Fatalf("prune: %q", out)
	}
	if out := must("image", "ls", "-q"); out != "" {
		t.Fatalf("images left after prune -a: %q", out)
	}

	_, errOut, code := run("image", "pull", host+"/nosuch")
	if code != 1 || !strings.Contains(errOut, host+"/nosuch:latest") || !strings.Contains(errOut, "404 Not Found (NAME_UNKNOWN") {
		t.Fatalf("pull of an unknown image: exit %d: %s", code, errOut)
	}
}

func slicesContainMatch(lines []string, re *regexp.Regexp) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// TestComposePull drives compose `pull`: named services only unless
// --include-deps, docker compose's skips, failures and
// --ignore-pull-failures.
func TestComposePull(t *testing.T) {
	host := imageRegistry(t, map[string]string{"web:1": "web", "db:1": "db"})
	compose := "services:\n" +
		"  web:\n    image: " + host + "/web:1\n    depends_on: [db]\n" +
		"  db:\n    image: " + host + "/db:1\n" +
		"  src:\n    build: .\n" +
		"  off:\n    image: " + host + "/absent:1\n    pull_policy: never\n"
	dir := project(t, "shop", map[string]string{"compose.yaml": compose})
	root := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root, "--progress", "plain"}, args...)...)
	}
	if _, errOut, code := run("pull", "web"); code != 0 || !strings.Contains(errOut, "web Pulled") || strings.Contains(errOut, "db Pull") {
		t.Fatalf("pull web: %d\n%s", code, errOut)
	}
	if _, errOut, code := run("pull", "--include-deps", "web"); code != 0 || !strings.Contains(errOut, "db Pulled") {
		t.Fatalf("pull --include-deps web: %d\n%s", code, errOut)
	}
	_, errOut, code := run("pull")
	if code != 0 || !strings.Contains(errOut, "src Skipped - No image to be pulled") || !strings.Contains(errOut, "off Skipped") {
		t.Fatalf("pull: %d\n%s", code, errOut)
	}
	// --policy overrides every service's pull_policy, as docker compose's.
	_, errOut, code = run("pull", "--policy", "missing", "web", "db")
	if code != 0 || !strings.Contains(errOut, "web Skipped - Image is already present locally") {
		t.Fatalf("pull --policy missing: %d\n%s", code, errOut)
	}
	if out, _, _ := berthRun(t, dir, nil, "--root", root, "image", "ls", "-q"); len(strings.Fields(out)) != 2 {
		t.Fatalf("images after pull: %q", out)
	}

	bad := project(t, "bad", map[string]string{"compose.yaml": "services:\n  x:\n    image: " + host + "/absent:1\n  y:\n    image: " + host + "/web:1\n"})
	_, errOut, code = berthRun(t, bad, nil, "--root", root, "--progress", "plain", "pull")
	if code != 1 || !strings.Contains(errOut, host+"/absent:1") || !strings.Contains(errOut, "404 Not Found") {
		t.Fatalf("pull of an absent image: %d\n%s", code, errOut)
	}
	if _, errOut, code := berthRun(t, bad, nil, "--root", root, "--progress", "plain", "pull", "--ignore-pull-failures"); code != 0 {
		t.Fatalf("--ignore-pull-failures: %d\n%s", code, errOut)
	}
	if _, _, code := run("pull", "--policy", "sometimes"); code != 1 {
		t.Fatal("bad --policy accepted")
	}
}

// TestPush: compose push sends the images of services with build and
// image; image push one image; both can be pulled back.
func TestPush(t *testing.T) {
	host := imageRegistry(t, map[string]string{"base:1": "base"})
	dir := project(t, "shop", map[string]string{"compose.yaml": "services:\n  api:\n    build: .\n    image: " + host + "/api:1\n  db:\n    image: " + host + "/base:1\n"})
	root := t.TempDir()
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(rootfs, testTar(t, "api", "binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root, "--progress", "plain"}, args...)...)
	}
	if _, errOut, code := run("image", "import", rootfs, host+"/api:1"); code != 0 {
		t.Fatal(errOut)
	}
	_, errOut, code := run("push")
	if code != 0 || !strings.Contains(errOut, "api Pushed") || !strings.Contains(errOut, "db Skipped") {
		t.Fatalf("push: %d\n%s", code, errOut)
	}
	if _, errOut, code := run("image", "tag", host+"/api:1", host+"/api:2"); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := run("image", "push", host+"/api:2")
	if code != 0 || !strings.Contains(out, "The push refers to repository ["+host+"/api]") || !strings.Contains(out, "2: digest: sha256:") {
		t.Fatalf("image push: %d %s %s", code, out, errOut)
	}
	other := t.TempDir()
	for _, ref := range []string{host + "/api:1", host + "/api:2"} {
		if _, errOut, code := berthRun(t, dir, nil, "--root", other, "image", "pull", "-q", ref); code != 0 {
			t.Fatalf("pull back %s: %s", ref, errOut)
		}
	}
	if _, errOut, code := run("image", "push", host+"/absent:1"); code != 1 || !strings.Contains(errOut, "no such image") {
		t.Fatalf("push of a missing image: %d %s", code, errOut)
	}
}
