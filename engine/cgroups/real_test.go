package cgroups

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/engine/testutil"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "BERTH_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h))
	}
	os.Exit(m.Run())
}

// runHelper is the helper process: it waits for a line on stdin (the test
// places it in a cgroup first), then does its job.
func runHelper(name string) int {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 3
	}
	switch name {
	case "hog": // touch memory until killed; 2 GiB at most
		var keep [][]byte
		for range 2048 {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("survived", len(keep))
		return 0
	}
	return 4
}

// uniqueProject is a project name no other test (or engineer) uses.
func uniqueProject() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "berthtest-" + hex.EncodeToString(b)
}

// realManager returns a manager on this host's cgroups and a fresh project
// name, and at the end checks that the test left no cgroup of that project in
// any hierarchy (removing what it finds, so a failure does not leak).
func realManager(t *testing.T, opts Options) (*Manager, string) {
	t.Helper()
	testutil.RequiresRoot(t)
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	project := uniqueProject()
	t.Cleanup(func() { checkNoLeftovers(t, m, project) })
	return m, project
}

func checkNoLeftovers(t *testing.T, m *Manager, project string) {
	t.Helper()
	ctx := context.Background()
	for _, b := range m.bases() {
		d := filepath.Join(b, m.parent, project)
		if !exists(d) {
			continue
		}
		t.Errorf("leftover cgroup %s", d)
		for _, id := range subdirs(d) {
			if cg, err := m.open(project, id); err == nil {
				_ = cg.Kill(ctx)
				_ = cg.Remove(ctx)
			}
		}
		m.removeProject(project)
	}
}

// placed is a shell started in a cgroup before its script runs.
type placed struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startPlaced starts `sh -c script`, puts it in cg with Apply, and only then
// lets the script run: what it forks is in the cgroup from the start.
func startPlaced(t *testing.T, cg *Cgroup, script string) *placed {
	t.Helper()
	return startPlacedCmd(t, cg, exec.Command("sh", "-c", "read _; "+script))
}

func startPlacedCmd(t *testing.T, cg *Cgroup, cmd *exec.Cmd) *placed {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := cg.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "\n"); err != nil {
		t.Fatal(err)
	}
	return &placed{cmd: cmd, out: out}
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procCgroups parses /proc/<pid>/cgroup into controller list -> path.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out
}

// readCg reads a cgroup file, trimmed.
func readCg(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
