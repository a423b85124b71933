package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
)

// cliCase is one berth command line and all it must print and return.
type cliCase struct {
	args        []string
	out, errOut string
	code        int
}

// runCases runs each case with run and compares stdout, stderr and the
// exit code byte for byte.
func runCases(t *testing.T, run func(args ...string) (string, string, int), cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		out, errOut, code := run(tc.args...)
		if out != tc.out || errOut != tc.errOut || code != tc.code {
			t.Errorf("berth %q:\nstdout %q\nstderr %q\nexit   %d\nwant:\nstdout %q\nstderr %q\nexit   %d",
				tc.args, out, errOut, code, tc.out, tc.errOut, tc.code)
		}
	}
}

// TestResourceCommandsHelp pins the help text, flags and completions of
// `network` and `volume` and their subcommands (docker's), against
// testdata/resource_help.golden; BERTH_UPDATE_GOLDEN=1 rewrites it.
func TestResourceCommandsHelp(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for _, group := range []string{"network", "volume"} {
		for _, sub := range []string{"", "create", "inspect", "ls", "prune", "rm"} {
			args := []string{group}
			if sub != "" {
				args = append(args, sub)
			}
			out, errOut, code := berthRun(t, dir, nil, append(args, "--help")...)
			b.WriteString("=== berth " + strings.Join(args, " ") + " --help\n" + out + errOut)
			if code != 0 {
				t.Errorf("%v --help: exit %d", args, code)
			}
		}
	}
	golden := filepath.Join("testdata", "resource_help.golden")
	if os.Getenv("BERTH_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("help differs from %s:\n%s", golden, b.String())
	}
}

// TestVolumeCommandsOutput pins `volume` output byte for byte: ls in each
// format, filters, inspect, rm, prune's prompt and report, completion,
// and the errors and exit codes.
func TestVolumeCommandsOutput(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	for _, args := range [][]string{{"v1", "--label", "b=2", "--label", "a=1"}, {"v10"}, {"v2", "--label", "flag"}} {
		if _, errOut, code := run(append([]string{"volume", "create"}, args...)...); code != 0 {
			t.Fatalf("create %v: %s", args, errOut)
		}
	}
	mp := filepath.Join(root, "volumes", "v1", "_data")
	runCases(t, run, []cliCase{
		{args: []string{"volume", "ls"}, out: "DRIVER    VOLUME NAME\nlocal     v1\nlocal     v2\nlocal     v10\n"},
		{args: []string{"volume", "list", "--format", "table"}, out: "DRIVER    VOLUME NAME\nlocal     v1\nlocal     v2\nlocal     v10\n"},
		{args: []string{"volume", "ls", "-q"}, out: "v1\nv2\nv10\n"},
		{args: []string{"volume", "ls", "-q", "--format", "{{.Driver}}"}, out: "v1\nv2\nv10\n"},
		{args: []string{"volume", "ls", "-q", "--format", "json", "-f", "name=v1$"},
			out: `{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=1,b=2","Links":"N/A","Mountpoint":"` + mp +
				`","Name":"v1","Scope":"local","Size":"N/A","Status":"N/A"}` + "\n"},
		{args: []string{"volume", "ls", "--format", `{{.Name}}\t{{.Labels}}`}, out: "v1\ta=1,b=2\nv2\tflag=\nv10\t\n"},
		{args: []string{"volume", "ls", "--format", `table {{.Name}}\t{{.Labels}}\t{{.Label "a"}}\t{{.Size}}`},
			out: "VOLUME NAME   LABELS    LABEL     SIZE\nv1            a=1,b=2   1         N/A\nv2            flag=               N/A\nv10                               N/A\n"},
		{args: []string{"volume", "ls", "-q", "-f", "label!=a", "-f", "driver=local"}, out: "v2\nv10\n"},
		{args: []string{"volume", "ls", "-q", "-f", "label=flag", "-f", "label=a=1"}, out: "v1\nv2\n"},
		{args: []string{"volume", "ls", "-q", "-f", "name=[", "-f", "dangling=true"}, out: ""},
		{args: []string{"volume", "ls", "-q", "-f", "dangling=false", "-f", "dangling=1"}, out: "v1\nv2\nv10\n"},
		{args: []string{"volume", "ls", "-f", "dangling=maybe"}, errOut: "invalid filter 'dangling=maybe'\n", code: 1},
		{args: []string{"volume", "ls", "-f", "Label!=x", "-f", "id=1"}, errOut: "invalid filter 'id'\n", code: 1},
		{args: []string{"volume", "ls", "-f", "label"}, errOut: "bad format of filter (expected name=value)\n", code: 1},
		{args: []string{"volume", "ls", "--format", "{{.Nope}}"},
			errOut: "template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type main.volumeRow\n", code: 1},
		{args: []string{"volume", "ls", "--format", "table {{.Nope}}"},
			errOut: "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type main.volumeHeader\n", code: 1},
		{args: []string{"volume", "ls", "--format", "{{"},
			errOut: "template parsing error: template: :1: unclosed action\n", code: 1},
		{args: []string{"volume", "ls", "extra"}, errOut: "\"berth volume ls\" accepts no arguments\nSee 'berth volume ls --help'.\n\nUsage:  berth volume ls [OPTIONS]\n\nList volumes\n", code: 1},
		{args: []string{"volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Driver}}", "v1", "nosuch", "v2"},
			out: "v1 map[a:1 b:2] local\nv2 map[flag:] local\n", errOut: "No such volume: nosuch\n", code: 1},
		{args: []string{"volume", "inspect", "nosuch"}, out: "[]\n", errOut: "No such volume: nosuch\n", code: 1},
		{args: []string{"volume", "create", "-o", "bad"}, errOut: "invalid option \"bad\": options are key=value (type, o, device)\n", code: 1},
		{args: []string{"volume", "create", "--name", "x", "y"},
			errOut: "conflicting options: either specify --name or provide positional arg, not both\n", code: 1},
		{args: []string{"volume", "prune"},
			out: "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "},
		{args: []string{"volume", "prune", "--filter", "all=true"},
			out: "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "},
		{args: []string{"volume", "prune", "-f", "--filter", "all=maybe"}, errOut: "invalid filter 'all=maybe'\n", code: 1},
		{args: []string{"volume", "prune", "-f", "--filter", "until=1h"}, errOut: "invalid filter 'until'\n", code: 1},
		{args: []string{"volume", "prune", "-f"}, out: "Total reclaimed space: 0B\n"},
		{args: []string{"__complete", "volume", "rm", ""}, out: "v1\nv10\nv2\n:4\n", errOut: "Completion ended with directive: ShellCompDirectiveNoFileComp\n"},
		{args: []string{"volume", "prune", "-f", "-a", "--filter", "label=a=1"}, out: "Deleted Volumes:\nv1\n\nTotal reclaimed space: 0B\n"},
		{args: []string{"volume", "rm", "v1", "v2"}, out: "v2\n", errOut: "No such volume: v1\n", code: 1},
		{args: []string{"volume", "remove", "-f", "v1", "v10"}, out: "v10\n"},
		{args: []string{"volume", "rm"}, errOut: "\"berth volume rm\" requires at least 1 argument\nSee 'berth volume rm --help'.\n\nUsage:  berth volume rm [OPTIONS] VOLUME [VOLUME...]\n\nRemove one or more volumes\n", code: 1},
		{args: []string{"volume", "ls"}, out: "DRIVER    VOLUME NAME\n"},
	})
}

// TestNetworkCommandsOutput pins `network` output byte for byte: ls in
// each format and filter, inspect, rm, prune's prompt and report,
// completion, and the errors and exit codes (real bridges on this
// machine, internal networks on test subnets, removed at the end).
func TestNetworkCommandsOutput(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() { run("network", "prune", "-f") })
	create := func(args ...string) (id, created string) {
		t.Helper()
		out, errOut, code := run(append([]string{"network", "create", "--internal"}, args...)...)
		if code != 0 {
			t.Fatalf("create %v: %s", args, errOut)
		}
		id = strings.TrimSpace(out)
		out, _, _ = run("network", "inspect", "-f", "{{.Created}}", args[len(args)-1])
		at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(out))
		if err != nil {
			t.Fatal(err)
		}
		return id, at.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST")
	}
	idA, createdA := create("--subnet", "10.213.31.0/24", "--label", "b=2", "--label", "a=1", "rc-a")
	idB, _ := create("--subnet", "10.213.32.0/24", "--ipv6", "rc-b")
	runCases(t, run, []cliCase{
		{args: []string{"network", "ls"}, out: "NETWORK ID     NAME      DRIVER    SCOPE\n" + idA[:12] + "   rc-a      bridge    local\n" + idB[:12] + "   rc-b      bridge    local\n"},
		{args: []string{"network", "list", "--no-trunc", "-f", "name=a$"}, out: "NETWORK ID                                                         NAME      DRIVER    SCOPE\n" + idA + "   rc-a      bridge    local\n"},
		{args: []string{"network", "ls", "-q"}, out: idA[:12] + "\n" + idB[:12] + "\n"},
		{args: []string{"network", "ls", "-q", "--format", "{{.Name}}"}, out: "rc-a\nrc-b\n"},
		{args: []string{"network", "ls", "-q", "--format", "json", "-f", "label=a=1"},
			out: `{"CreatedAt":"` + createdA + `","Driver":"bridge","ID":"` + idA[:12] + `","IPv6":"false","Internal":"true","Labels":"a=1,b=2","Name":"rc-a","Scope":"local"}` + "\n"},
		{args: []string{"network", "ls", "--format", `{{.Name}}\t{{.IPv6}}\t{{.Label "a"}}|`}, out: "rc-a      false     1|\nrc-b      true      |\n"},
		{args: []string{"network", "ls", "--format", `table {{.Name}}\t{{.Internal}}\t{{.Labels}}\t{{.Label "b"}}\t{{.Scope}}`},
			out: "NAME      INTERNAL   LABELS    LABEL     SCOPE\nrc-a      true       a=1,b=2   2         local\nrc-b      true                           local\n"},
		{args: []string{"network", "ls", "--format", `table {{.CreatedAt}}`, "-f", "id=" + idA[:5]}, out: "CREATED AT\n" + createdA + "\n"},
		{args: []string{"network", "ls", "-q", "--format", "{{.Name}}", "-f", "label!=a", "-f", "driver=bridge", "-f", "scope=local", "-f", "type=custom"}, out: "rc-b\n"},
		{args: []string{"network", "ls", "-q", "--format", "{{.Name}}", "-f", "type=builtin"}, out: ""},
		{args: []string{"network", "ls", "-q", "--format", "{{.Name}}", "-f", "dangling=true", "-f", "name=rc-"}, out: "rc-a\nrc-b\n"},
		{args: []string{"network", "ls", "-q", "-f", "dangling=false"}, out: ""},
		{args: []string{"network", "ls", "-f", "dangling=maybe"}, errOut: "invalid filter 'dangling=maybe'\n", code: 1},
		{args: []string{"network", "ls", "-f", "until=1h"}, errOut: "invalid filter 'until'\n", code: 1},
		{args: []string{"network", "ls", "--format", "{{.Nope}}"},
			errOut: "template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type main.networkRow\n", code: 1},
		{args: []string{"network", "ls", "--format", "table {{.Nope}}"},
			errOut: "template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type main.networkHeader\n", code: 1},
		{args: []string{"network", "ls", "--format", "{{"}, errOut: "template parsing error: template: :1: unclosed action\n", code: 1},
		{args: []string{"network", "inspect", "-f", "{{.Name}} {{.Labels}} {{.EnableIPv6}}", "rc-a", "nosuch", "rc-b"},
			out: "rc-a map[a:1 b:2] false\nrc-b map[] true\n", errOut: "network nosuch not found\n", code: 1},
		{args: []string{"network", "inspect", "nosuch"}, out: "[]\n", errOut: "network nosuch not found\n", code: 1},
		{args: []string{"network", "create", "rc-a"}, errOut: "network with name rc-a already exists\n", code: 1},
		{args: []string{"network", "create", "-o", "bad", "rc-c"}, errOut: "invalid option \"bad\": options are key=value\n", code: 1},
		{args: []string{"network", "create", "rc-c", "rc-d"}, errOut: "\"network create\" requires exactly 1 argument\n", code: 1},
		{args: []string{"network", "prune"},
			out: "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "},
		{args: []string{"network", "prune", "-f", "--filter", "until=soon"}, errOut: "invalid filter 'until=soon'\n", code: 1},
		{args: []string{"network", "prune", "-f", "--filter", "dangling=true"}, errOut: "invalid filter 'dangling'\n", code: 1},
		{args: []string{"network", "prune", "-f", "--filter", "until=1h"}, out: ""},
		{args: []string{"__complete", "network", "rm", ""}, out: "rc-a\nrc-b\n:4\n", errOut: "Completion ended with directive: ShellCompDirectiveNoFileComp\n"},
		{args: []string{"network", "prune", "-f", "--filter", "label=a=1"}, out: "Deleted Networks:\nrc-a\n\n"},
		{args: []string{"network", "rm", "rc-a", "rc-b"}, out: "rc-b\n", errOut: "network rc-a not found\n", code: 1},
		{args: []string{"network", "remove", "-f", "rc-a"}, out: ""},
		{args: []string{"network", "rm"}, errOut: "\"berth network rm\" requires at least 1 argument\nSee 'berth network rm --help'.\n\nUsage:  berth network rm NETWORK [NETWORK...]\n\nRemove one or more networks\n", code: 1},
		{args: []string{"network", "ls"}, out: "NETWORK ID   NAME      DRIVER    SCOPE\n"},
	})
}

// TestImagePruneOutput pins `image prune`'s prompts and its report of
// nothing removed, which it prints as network and volume prune do.
func TestImagePruneOutput(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return berthRun(t, dir, nil, append([]string{"--root", root}, args...)...)
	}
	runCases(t, run, []cliCase{
		{args: []string{"image", "prune"},
			out: "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "},
		{args: []string{"image", "prune", "-a"},
			out: "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "},
		{args: []string{"image", "prune", "-f", "--filter", "bogus=1"}, errOut: "invalid filter 'bogus' (until, label, dangling)\n", code: 1},
		{args: []string{"image", "prune", "-f"}, out: "Total reclaimed space: 0B\n"},
	})
}
