package watch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     bool
	}{
		{"relative file", []string{"secret.txt"}, "/src/secret.txt", true},
		{"relative file elsewhere", []string{"secret.txt"}, "/src/sub/secret.txt", false},
		{"directory covers its content", []string{"node_modules/"}, "/src/node_modules/a/b.js", true},
		{"directory name is not a prefix", []string{"node_modules"}, "/src/node_modules2/x", false},
		{"star in one directory", []string{"*.log"}, "/src/app.log", true},
		{"star does not cross directories", []string{"*.log"}, "/src/sub/app.log", false},
		{"double star crosses directories", []string{"**/*.log"}, "/src/a/b/app.log", true},
		{"exclusion re-includes", []string{"*", "!keep"}, "/src/keep/file", false},
		{"exclusion leaves the rest", []string{"*", "!keep"}, "/src/other", true},
		{"star alone ignores everything", []string{"*"}, "/src/a/b", true},
		{"outside the root", []string{"*"}, "/elsewhere/a", false},
		{"absolute pattern", []string{"/src/tmp"}, "/src/tmp/x", true},
		{"blank patterns skipped", []string{" ", ""}, "/src/a", false},
		{"relative path read from the root", []string{"a"}, "a", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPatterns("/src", tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Matches(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("patterns %q on %s: got %v, want %v", tc.patterns, tc.path, got, tc.want)
			}
		})
	}
}

func TestPatternsInvalid(t *testing.T) {
	if _, err := NewPatterns("/src", []string{"a[", "b"}); err == nil {
		t.Fatal("malformed pattern accepted")
	}
	if _, err := NewPatterns("/src", []string{"!"}); err == nil {
		t.Fatal(`lone "!" accepted`)
	}
}

func TestNoise(t *testing.T) {
	n := Noise()
	for path, want := range map[string]bool{
		"/p/.git":                  true,
		"/p/.git/index":            true,
		"/p/sub/.git/HEAD":         true,
		"/p/.gitignore":            false,
		"/p/main.go~":              true,
		"/p/.main.go.swp":          true,
		"/p/4913":                  true,
		"/p/.#main.go":             true,
		"/p/#main.go#":             true,
		"/p/.idea/workspace.xml":   true,
		"/p/x-go-tmp-umask":        true,
		"/p/main.go":               false,
		"/p/a.swp":                 false,
		"/p/src/index___jb_tmp___": true,
	} {
		got, err := n.Matches(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
}

func TestReadIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	none, err := ReadIgnoreFile(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := none.Matches(filepath.Join(dir, "a")); ok {
		t.Error("no ignore file: a is ignored")
	}

	write(".dockerignore", "# comment\n*.tmp\n")
	p, err := ReadIgnoreFile(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Matches(filepath.Join(dir, "x.tmp")); !ok {
		t.Error(".dockerignore: x.tmp not ignored")
	}

	// The Dockerfile's own ignore file wins over .dockerignore.
	write("Dockerfile.dockerignore", "*.bak\n")
	p, err = ReadIgnoreFile(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Matches(filepath.Join(dir, "x.bak")); !ok {
		t.Error("Dockerfile.dockerignore: x.bak not ignored")
	}
	if ok, _ := p.Matches(filepath.Join(dir, "x.tmp")); ok {
		t.Error("Dockerfile.dockerignore present: .dockerignore still applied")
	}
}

func TestAnyOf(t *testing.T) {
	a, _ := NewPatterns("/", []string{"a"})
	b, _ := NewPatterns("/", []string{"b"})
	m := AnyOf{a, b}
	for path, want := range map[string]bool{"/a": true, "/b/x": true, "/c": false} {
		if got, _ := m.Matches(path); got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	if got, _ := (AnyOf{}).Matches("/a"); got {
		t.Error("empty AnyOf matched")
	}
}

func TestIsChild(t *testing.T) {
	for _, tc := range []struct {
		dir, path string
		want      bool
	}{
		{"/a", "/a", true},
		{"/a", "/a/b", true},
		{"/a", "/ab", false},
		{"/a/b", "/a", false},
		{"/", "/x", true},
	} {
		if got := IsChild(tc.dir, tc.path); got != tc.want {
			t.Errorf("IsChild(%q, %q) = %v", tc.dir, tc.path, got)
		}
	}
}
