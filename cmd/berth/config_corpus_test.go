package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// corpusDir locates the conformance corpus: BERTH_CORPUS, else the copy in
// compose/testdata/corpus, else ../shared/corpus beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("BERTH_CORPUS"),
		filepath.Join("..", "..", "compose", "testdata", "corpus"),
		filepath.Join("..", "..", "..", "shared", "corpus")}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "README.md")); err == nil && !st.IsDir() {
			abs, err := filepath.Abs(c)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Skip("compose corpus not found (set BERTH_CORPUS, or restore compose/testdata/corpus)")
	return ""
}

// corpusCase is one compose file with Docker Compose v2.40.3's output.
type corpusCase struct {
	name     string // path relative to the corpus
	dir      string
	file     string // base name
	stdout   string // expected.NAME.yaml (success)
	stderr   string // expected.NAME.err
	failCode string // expected.NAME.code (failure)
}

// corpusDifferences lists the cases where berth differs from docker compose
// on purpose, with the reason. Empty: berth matches every case.
var corpusDifferences = map[string]string{}

func loadCorpus(t *testing.T, root string) []corpusCase {
	t.Helper()
	var cases []corpusCase
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.ReplaceAll(string(b), "${CORPUS_DIR}", root)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		ext := filepath.Ext(base)
		if (ext != ".yaml" && ext != ".yml") || strings.HasPrefix(base, "expected") {
			return nil
		}
		dir := filepath.Dir(path)
		exp := filepath.Join(dir, "expected."+strings.TrimSuffix(base, ext))
		_, errY := os.Stat(exp + ".yaml")
		_, errC := os.Stat(exp + ".code")
		if errY != nil && errC != nil {
			return nil // not a case (e.g. compose-bridge's Kubernetes output)
		}
		rel, _ := filepath.Rel(root, path)
		cases = append(cases, corpusCase{
			name: rel, dir: dir, file: base,
			stdout: read(exp + ".yaml"), stderr: read(exp + ".err"),
			failCode: strings.TrimSpace(read(exp + ".code")),
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	return cases
}

// versionWarned records the files compose-go has already warned about in
// this process (it keeps that list globally).
var versionWarned = map[string]bool{}

var warningRE = regexp.MustCompile(`level=warning msg=".*"`)

// TestConfigCorpus runs `berth -f NAME config` in-process on every corpus
// case, in the corpus's empty environment (PATH=/usr/bin:/bin
// HOME=/nonexistent, project named after the folder), and compares with
// Docker Compose v2.40.3: the exact standard output for successes; a
// failure whose message holds docker compose's error line for failures; and
// every warning docker compose printed.
func TestConfigCorpus(t *testing.T) {
	root := corpusDir(t)
	cases := loadCorpus(t, root)
	// compose-go expands "~" with the process's HOME (os.UserHomeDir), the
	// only thing it reads from the process environment.
	t.Setenv("HOME", "/nonexistent")
	// compose-go warns through logrus' global logger; docker compose prints
	// those lines on stderr. Capture them per case.
	var warnings bytes.Buffer
	logrus.SetOutput(&warnings)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })

	match := 0
	var failed []string
	for _, tc := range cases {
		ok := t.Run(tc.name, func(t *testing.T) {
			if reason, ok := corpusDifferences[tc.name]; ok {
				t.Skipf("differs on purpose: %s", reason)
			}
			warnings.Reset()
			var stdout, stderr bytes.Buffer
			c := &cli{
				stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
				environ:    map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
				workingDir: tc.dir,
			}
			code := c.execute(context.Background(), []string{"-f", tc.file, "config"})
			gotErr := stderr.String() + warnings.String()
			if tc.failCode != "" {
				if code == 0 {
					t.Fatalf("succeeded, docker compose failed with %s:\n%s", tc.failCode, tc.stderr)
				}
				lines := strings.Split(strings.TrimSpace(tc.stderr), "\n")
				want := lines[len(lines)-1]
				if !strings.Contains(gotErr, want) {
					t.Errorf("error differs:\n got: %s\nwant: %s", strings.TrimSpace(stderr.String()), want)
				}
			} else {
				if code != 0 {
					t.Fatalf("failed (%d): %s", code, gotErr)
				}
				if stdout.String() != tc.stdout {
					t.Errorf("stdout differs:\n%s", lineDiff(tc.stdout, stdout.String()))
				}
			}
			for _, w := range warningRE.FindAllString(tc.stderr, -1) {
				if strings.Contains(w, "the attribute `version` is obsolete") {
					// compose-go warns once per file and process.
					if versionWarned[tc.name] {
						continue
					}
					versionWarned[tc.name] = true
				}
				if !strings.Contains(gotErr, w) {
					t.Errorf("missing warning %s", w)
				}
			}
		})
		if _, skipped := corpusDifferences[tc.name]; ok && !skipped {
			match++
		} else if !ok {
			failed = append(failed, tc.name)
		}
	}
	t.Logf("corpus: %d/%d match (%d listed differences)", match, len(cases), len(corpusDifferences))
	// Printed on purpose: `go test -run TestConfigCorpus ./cmd/berth` shows
	// the score without -v.
	os.Stdout.WriteString("corpus: " + strconv.Itoa(match) + "/" + strconv.Itoa(len(cases)) + " match\n")
	if len(failed) > 0 {
		t.Errorf("cases that differ: %s", strings.Join(failed, ", "))
	}
	if len(cases) != 97 {
		t.Errorf("corpus has %d cases, want 97", len(cases))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + a + "\n  got: " + b
		}
	}
	return "(trailing difference)"
}
