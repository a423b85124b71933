package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// berthRun runs one berth command line in-process in dir, with env as the
// whole environment, and returns stdout, stderr and the exit status.
func berthRun(t *testing.T, dir string, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: env, workingDir: dir}
	code := c.execute(context.Background(), args)
	return stdout.String(), stderr.String(), code
}

// project writes files (name → content) into a new directory named name.
func project(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for f, content := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const demoCompose = `services:
  web:
    image: nginx:${TAG:-1}
    depends_on: [api]
    environment:
      PRICE: "$$5"
    networks: [front]
  api:
    build: ./api
    depends_on:
      db:
        condition: service_healthy
    volumes:
      - data:/data
  db:
    image: postgres
  debug:
    image: busybox
    profiles: [debug, tools]
networks:
  front: {}
  unused: {}
volumes:
  data: {}
  unused: {}
`

func TestConfigListings(t *testing.T) {
	dir := project(t, "Demo", map[string]string{"compose.yaml": demoCompose})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"services in dependency order", []string{"config", "--services"}, "db\napi\nweb\n"},
		{"services with profile", []string{"--profile", "debug", "config", "--services"}, "db\napi\ndebug\nweb\n"},
		{"volumes used", []string{"config", "--volumes"}, "data\n"},
		{"networks used", []string{"config", "--networks"}, "default\nfront\n"},
		{"images", []string{"config", "--images"}, "demo-api\npostgres\nnginx:1\n"},
		{"profiles", []string{"config", "--profiles"}, "debug\ntools\n"},
		{"quiet", []string{"config", "-q"}, ""},
		{"project name from -p", []string{"-p", "other", "config", "--images"}, "other-api\npostgres\nnginx:1\n"},
		{"environment", []string{"config", "--environment"}, "COMPOSE_PROJECT_NAME=demo\nPWD=" + dir + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := berthRun(t, dir, nil, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tc.want)
			}
		})
	}
}

func TestConfigRender(t *testing.T) {
	dir := project(t, "demo", map[string]string{"compose.yaml": demoCompose})
	out, errOut, code := berthRun(t, dir, map[string]string{"TAG": "2"}, "config", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"name: demo\n", "image: nginx:2\n", "PRICE: $$5\n", "  api:\n", "  db:\n", "name: demo_front\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "debug") {
		t.Errorf("selected services and dependencies only, got debug:\n%s", out)
	}

	out, _, code = berthRun(t, dir, nil, "config", "--format", "json")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("json output (%d): %s", code, out)
	}
	if m["name"] != "demo" || len(m["services"].(map[string]any)) != 3 {
		t.Errorf("json: %v", m)
	}

	out, _, code = berthRun(t, dir, nil, "config", "--no-interpolate")
	if code != 0 || !strings.Contains(out, "image: nginx:${TAG:-1}") || !strings.Contains(out, "PRICE: $$5") {
		t.Errorf("--no-interpolate (%d):\n%s", code, out)
	}

	out, _, code = berthRun(t, dir, nil, "config", "--no-normalize")
	if code != 0 || strings.Contains(out, "default: null") {
		t.Errorf("--no-normalize added the default network (%d):\n%s", code, out)
	}

	out, _, code = berthRun(t, dir, nil, "config", "-o", "out.yaml")
	b, err := os.ReadFile(filepath.Join(dir, "out.yaml"))
	if code != 0 || out != "" || err != nil || !strings.Contains(string(b), "name: demo") {
		t.Errorf("-o: code %d, stdout %q, file %q %v", code, out, b, err)
	}

	_, errOut, code = berthRun(t, dir, nil, "config", "--format", "toml")
	if code != 1 || !strings.Contains(errOut, `unsupported format "toml"`) {
		t.Errorf("bad format: %d %s", code, errOut)
	}
	_, errOut, code = berthRun(t, dir, nil, "config", "--resolve-image-digests")
	if code != 1 || !strings.Contains(errOut, "not supported") {
		t.Errorf("--resolve-image-digests: %d %s", code, errOut)
	}
}

func TestConfigHash(t *testing.T) {
	dir := project(t, "demo", map[string]string{"compose.yaml": demoCompose})
	all, errOut, code := berthRun(t, dir, nil, "config", "--hash", "*")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "api ") || len(strings.Fields(lines[0])[1]) != 64 {
		t.Fatalf("--hash '*':\n%s", all)
	}
	one, _, _ := berthRun(t, dir, nil, "config", "--hash", "web")
	if one != lines[2]+"\n" {
		t.Errorf("--hash web = %q, want %q", one, lines[2])
	}
	// The image changes the hash; depends_on does not.
	other, _, _ := berthRun(t, dir, map[string]string{"TAG": "2"}, "config", "--hash", "web")
	if other == one {
		t.Error("hash did not change with the image")
	}
	dir2 := project(t, "demo", map[string]string{"compose.yaml": strings.Replace(demoCompose, "depends_on: [api]", "depends_on: []", 1)})
	same, _, _ := berthRun(t, dir2, nil, "-p", "demo", "config", "--hash", "web")
	if same != one {
		t.Errorf("depends_on changed the hash: %q vs %q", same, one)
	}
	_, errOut, code = berthRun(t, dir, nil, "config", "--hash", "nosuch")
	if code != 1 || !strings.Contains(errOut, "no such service: nosuch") {
		t.Errorf("unknown service: %d %s", code, errOut)
	}
}

func TestConfigDiscovery(t *testing.T) {
	dir := project(t, "app", map[string]string{
		"docker-compose.yml":          "services:\n  a:\n    image: a\n",
		"docker-compose.override.yml": "services:\n  b:\n    image: b\n",
		"other.yaml":                  "services:\n  c:\n    image: c\n",
		".env":                        "COMPOSE_FILE=other.yaml\n",
		"sub/x/.keep":                 "",
	})
	out, errOut, code := berthRun(t, filepath.Join(dir, "sub", "x"), map[string]string{"COMPOSE_DISABLE_ENV_FILE": "1"}, "config", "--services")
	if code != 0 || out != "a\nb\n" {
		t.Errorf("parent discovery with override: %d %q %s", code, out, errOut)
	}
	out, _, code = berthRun(t, dir, nil, "config", "--services")
	if code != 0 || out != "c\n" {
		t.Errorf("COMPOSE_FILE from .env: %d %q", code, out)
	}
	out, _, code = berthRun(t, dir, map[string]string{"COMPOSE_FILE": "docker-compose.yml:other.yaml"}, "config", "--services")
	if code != 0 || out != "a\nc\n" {
		t.Errorf("COMPOSE_FILE list: %d %q", code, out)
	}
	out, _, code = berthRun(t, dir, nil, "-f", "docker-compose.yml", "-f", "other.yaml", "config", "--services")
	if code != 0 || out != "a\nc\n" {
		t.Errorf("-f merge: %d %q", code, out)
	}
	_, errOut, code = berthRun(t, t.TempDir(), nil, "config")
	if code != 1 || !strings.Contains(errOut, "no configuration file provided: not found") {
		t.Errorf("no file: %d %q", code, errOut)
	}
}
