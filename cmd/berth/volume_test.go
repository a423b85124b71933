package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestVolumeCommands drives `berth volume` and `berth volumes` in-process
// on a throwaway root and checks docker's output shapes.
func TestVolumeCommands(t *testing.T) {
	root := t.TempDir()
	dir := project(t, "shop", map[string]string{"compose.yaml": "services:\n  db:\n    image: x\n    volumes: [data:/d]\nvolumes:\n  data: {}\n"})
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	if out := mustRun("volume", "create", "a10"); out != "a10\n" {
		t.Fatalf("create printed %q", out)
	}
	mustRun("volume", "create", "a2", "--label", "tier=db", "--label", "flag")
	mustRun("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "scratch")
	mustRun("volume", "create", "--label", "com.docker.compose.project=shop", "shop_data")
	mustRun("volume", "create", "--label", "com.docker.compose.project=shop", "--label", "com.docker.volume.anonymous", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	anon := strings.TrimSpace(mustRun("volume", "create"))
	if len(anon) != 64 {
		t.Fatalf("unnamed volume name %q", anon)
	}
	// Existing: printed again, no error.
	if out := mustRun("volume", "create", "a10"); out != "a10\n" {
		t.Fatalf("create existing printed %q", out)
	}

	names := []string{"a10", "a2", "scratch", "shop_data", anon, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	slices.SortFunc(names, naturalCompare) // the random name sorts anywhere
	want := "DRIVER    VOLUME NAME\n"
	for _, n := range names {
		want += "local     " + n + "\n"
	}
	if out := mustRun("volume", "ls"); out != want {
		t.Fatalf("ls:\n%s\nwant:\n%s", out, want)
	}
	if out := mustRun("volume", "ls", "-q", "-f", "label=tier=db"); out != "a2\n" {
		t.Fatalf("ls label=k=v: %q", out)
	}
	if out := mustRun("volume", "ls", "-q", "--filter", "label=flag", "--filter", "name=a"); out != "a2\n" {
		t.Fatalf("ls label=k name=: %q", out)
	}
	if out := mustRun("volume", "ls", "--format", "{{.Name}} {{.Label \"tier\"}}", "-f", "name=^a2$"); out != "a2 db\n" {
		t.Fatalf("ls template: %q", out)
	}
	if out := mustRun("volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "-f", "name=scratch"); out != "VOLUME NAME   SCOPE\nscratch       local\n" {
		t.Fatalf("ls table template: %q", out)
	}
	out := mustRun("volume", "ls", "--format", "json", "-f", "name=a10")
	var row map[string]string
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["Name"] != "a10" || row["Driver"] != "local" || row["Scope"] != "local" {
		t.Fatalf("ls json: %q %v", out, err)
	}
	if _, errOut, code := run("volume", "ls", "-f", "bogus=1"); code != 1 || !strings.Contains(errOut, "invalid filter 'bogus'") {
		t.Fatalf("bad filter: %d %q", code, errOut)
	}

	out, errOut, code := run("volume", "inspect", "a2", "nosuch")
	if code != 1 || !strings.Contains(errOut, "No such volume: nosuch") {
		t.Fatalf("inspect missing: %d %q", code, errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect json: %q %v", out, err)
	}
	mp := filepath.Join(root, "volumes", "a2", "_data")
	if got[0]["Name"] != "a2" || got[0]["Mountpoint"] != mp || got[0]["Scope"] != "local" ||
		got[0]["Labels"].(map[string]any)["tier"] != "db" || got[0]["CreatedAt"] == "" {
		t.Fatalf("inspect: %v", got[0])
	}
	if !strings.Contains(out, "\n    {\n        \"CreatedAt\"") {
		t.Fatalf("inspect is not indented as docker's:\n%s", out)
	}
	if out := mustRun("volume", "inspect", "-f", "{{.Mountpoint}} {{.Options.type}}", "scratch"); out != filepath.Join(root, "volumes", "scratch", "_data")+" tmpfs\n" {
		t.Fatalf("inspect template: %q", out)
	}

	// compose's `volumes`: the project's volumes (by label), not its anonymous ones.
	if out := mustRun("volumes"); out != "DRIVER    VOLUME NAME\nlocal     shop_data\n" {
		t.Fatalf("volumes: %q", out)
	}
	if out := mustRun("-p", "other", "volumes", "-q"); out != "" {
		t.Fatalf("volumes of another project: %q", out)
	}
	if _, errOut, code := run("volumes", "nosuch"); code != 1 || !strings.Contains(errOut, "no such service: nosuch") {
		t.Fatalf("volumes unknown service: %d %q", code, errOut)
	}

	// rm -f: gone or not, no error; the data goes.
	if err := os.WriteFile(filepath.Join(mp, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("volume", "rm", "-f", "a2", "nosuch"); out != "a2\n" {
		t.Fatalf("rm -f printed %q", out)
	}
	if _, err := os.Stat(mp); !os.IsNotExist(err) {
		t.Fatalf("volume data left: %v", err)
	}
	if _, errOut, code := run("volume", "rm", "nosuch"); code != 1 || !strings.Contains(errOut, "No such volume: nosuch") {
		t.Fatalf("rm missing: %d %q", code, errOut)
	}
	if _, errOut, code := run("volume", "create", "-o", "foo=1", "bad"); code != 1 || !strings.Contains(errOut, `invalid option key: "foo"`) {
		t.Fatalf("create bad opt: %d %q", code, errOut)
	}
	if _, errOut, code := run("volume", "rm"); code != 1 || !strings.Contains(errOut, `"berth volume rm" requires at least 1 argument`) {
		t.Fatalf("rm without args: %d %q", code, errOut)
	}
}

func TestNaturalCompareAndHumanSize(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{{"a2", "a10", true}, {"a10", "a2", false}, {"a", "a1", true}, {"b", "a10", false}, {"v007", "v7x", true}} {
		if got := naturalCompare(tc.a, tc.b) < 0; got != tc.less {
			t.Errorf("naturalCompare(%q, %q) < 0 = %v", tc.a, tc.b, got)
		}
	}
	for n, want := range map[float64]string{0: "0B", 999: "999B", 1000: "1kB", 1536: "1.536kB", 12_345_678: "12.35MB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%v) = %q, want %q", n, got, want)
		}
	}
}
