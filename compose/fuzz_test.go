package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: loading any compose file returns a project or an error, never
// panics; a syntax error always carries a position inside the file.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("services:\n  web:\n    image: nginx\n"))
	f.Add([]byte("services:\n  web:\n    image: ${A:-b}\n    ports: ['80:80']\n    depends_on: {db: {condition: service_healthy}}\n  db: {image: pg}\n"))
	f.Add([]byte("services:\n  a:\n\timage: x\n"))
	matches, _ := filepath.Glob(filepath.Join("testdata", "corpus", "awesome-compose", "*", "compose.yaml"))
	for _, m := range matches[:min(len(matches), 8)] {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "compose.yaml")
		if err := os.WriteFile(file, content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: map[string]string{}, ProjectName: "fuzz"})
		if err := YAMLSyntaxError(file, content); err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("not a *SyntaxError: %v", err)
			}
			if lines := strings.Count(string(content), "\n") + 1; se.Line < 1 || se.Line > lines {
				t.Errorf("line %d outside the file's %d lines", se.Line, lines)
			}
		}
	})
}
