package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigErrors: each mistake in a compose file fails with exit 1 and a
// message that says what and where.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		env     map[string]string
		want    []string // substrings of stderr; "FILE" is the compose file's path
	}{
		{name: "invalid YAML: bad indentation",
			compose: "services:\n  web:\n    image: nginx\n   ports: [80]\n",
			want:    []string{"FILE:4:4: invalid YAML: did not find expected key", "   4 |    ports: [80]\n     |    ^"}},
		{name: "invalid YAML: unclosed flow sequence",
			compose: "services:\n  web:\n    image: [nginx\n",
			want:    []string{"FILE:3:12: invalid YAML: did not find expected ',' or ']'"}},
		{name: "invalid YAML: tab indentation",
			compose: "services:\n  web:\n\timage: nginx\n",
			want:    []string{"FILE:3:1: invalid YAML:", "YAML does not allow tabs"}},
		{name: "unknown key",
			compose: "services:\n  web:\n    image: nginx\n    portz: [80]\n",
			want:    []string{"validating FILE: services.web additional properties 'portz' not allowed"}},
		{name: "unknown top-level key",
			compose: "servics:\n  web:\n    image: nginx\n",
			want:    []string{"validating FILE:", "additional properties 'servics' not allowed"}},
		{name: "wrong type",
			compose: "services:\n  web:\n    image: nginx\n    ports: 80\n",
			want:    []string{"validating FILE: services.web.ports must be a array"}},
		{name: "invalid value",
			compose: "services:\n  web:\n    image: nginx\n    mem_limit: lots\n",
			want:    []string{"'services[web].mem_limit' invalid size: 'lots'"}},
		{name: "missing required variable with message",
			compose: "services:\n  web:\n    image: ${TAG:?set TAG to the release}\n",
			want:    []string{"error while interpolating services.web.image: required variable TAG is missing a value: set TAG to the release"}},
		{name: "required variable set but empty",
			compose: "services:\n  web:\n    image: ${TAG:?}\n", env: map[string]string{"TAG": ""},
			want: []string{"required variable TAG is missing a value"}},
		{name: "depends_on an unknown service",
			compose: "services:\n  web:\n    image: nginx\n    depends_on: [db]\n",
			want:    []string{`service "web" depends on undefined service "db"`}},
		{name: "network_mode of an unknown service",
			compose: "services:\n  web:\n    image: nginx\n    network_mode: service:vpn\n",
			want:    []string{`service "web" depends on undefined service "vpn"`}},
		{name: "dependency cycle",
			compose: "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
			want:    []string{"dependency cycle detected: a -> b -> c -> a"}},
		{name: "undefined volume",
			compose: "services:\n  web:\n    image: nginx\n    volumes: [data:/data]\n",
			want:    []string{`service "web" refers to undefined volume data`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, "p", map[string]string{"compose.yaml": tc.compose})
			out, errOut, code := berthRun(t, dir, tc.env, "config")
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, want 1 and nothing", code, out)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "FILE", filepath.Join(dir, "compose.yaml"))
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestUsageErrors: command-line mistakes print the usage line and exit 1;
// success exits 0.
func TestUsageErrors(t *testing.T) {
	dir := project(t, "p", map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n"})
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"success", []string{"config", "-q"}, 0, nil},
		{"unknown flag", []string{"config", "--bogus"}, 1,
			[]string{"unknown flag: --bogus\nSee 'berth config --help'.\n\nUsage:  berth config [OPTIONS] [SERVICE...]\n"}},
		{"unknown global flag", []string{"--bogus", "config"}, 1, []string{"unknown flag: --bogus", "Usage:  berth [OPTIONS] COMMAND"}},
		{"unknown shorthand", []string{"config", "-z"}, 1, []string{"unknown shorthand flag: 'z' in -z", "Usage:  berth config"}},
		{"flag without value", []string{"config", "--format"}, 1, []string{"flag needs an argument: --format", "Usage:  berth config"}},
		{"bad flag value", []string{"--parallel", "many", "config"}, 1, []string{`invalid argument "many" for "--parallel"`}},
		{"too many arguments", []string{"version", "extra"}, 1,
			[]string{`"berth version" accepts no arguments` + "\nSee 'berth version --help'.\n\nUsage:  berth version [OPTIONS]\n"}},
		{"unknown command", []string{"nosuch"}, 1, []string{"'nosuch' is not a berth command", "See 'berth --help'.", "Usage:  berth [OPTIONS] COMMAND"}},
		{"unknown command suggestion", []string{"versio"}, 1, []string{"Did you mean this?\n\tversion"}},
		{"misspelt command suggestion", []string{"conifg"}, 1, []string{"Did you mean this?\n\tconfig"}},
		{"invalid project name", []string{"-p", "My Project", "config"}, 1, []string{`invalid project name "My Project"`}},
		{"bad --progress", []string{"--progress", "loud", "config", "-q"}, 1, []string{`unsupported --progress value "loud"`}},
		{"bad --ansi", []string{"--ansi", "sometimes", "config", "-q"}, 1, []string{`invalid --ansi value "sometimes"`}},
		{"conflicting progress and ansi", []string{"--ansi", "never", "--progress", "tty", "config", "-q"}, 1,
			[]string{"can't use --progress tty while ANSI support is disabled"}},
		{"unknown service", []string{"config", "nosuch"}, 1, []string{"no such service: nosuch"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := berthRun(t, dir, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.code == 0 && errOut != "" {
				t.Errorf("stderr on success: %q", errOut)
			}
		})
	}
}

func TestGlobalFlagEnvironment(t *testing.T) {
	dir := project(t, "p", map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n"})
	_, errOut, code := berthRun(t, dir, map[string]string{"COMPOSE_PROGRESS": "loud"}, "config", "-q")
	if code != 1 || !strings.Contains(errOut, `unsupported --progress value "loud"`) {
		t.Errorf("COMPOSE_PROGRESS not read: %d %q", code, errOut)
	}
	_, _, code = berthRun(t, dir, map[string]string{"COMPOSE_PROGRESS": "loud"}, "--progress", "plain", "config", "-q")
	if code != 0 {
		t.Errorf("--progress did not win over COMPOSE_PROGRESS")
	}
	_, errOut, code = berthRun(t, dir, map[string]string{"COMPOSE_PARALLEL_LIMIT": "x"}, "config", "-q")
	if code != 1 || !strings.Contains(errOut, "COMPOSE_PARALLEL_LIMIT must be an integer") {
		t.Errorf("COMPOSE_PARALLEL_LIMIT: %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "berth version " + version + "\n"},
		{[]string{"version", "--short"}, strings.TrimPrefix(version, "v") + "\n"},
		{[]string{"version", "--format", "json"}, `{"version":"` + version + `"}` + "\n"},
		{[]string{"-v"}, "berth version " + version + "\n"},
		// needs no project: runs in an empty directory with a broken COMPOSE_FILE
		{[]string{"--progress", "bogus", "version"}, "berth version " + version + "\n"},
	}
	for _, tc := range tests {
		out, errOut, code := berthRun(t, t.TempDir(), map[string]string{"COMPOSE_FILE": "/nonexistent.yaml"}, tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%v: exit %d, %q (stderr %q), want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if !strings.HasPrefix(version, "v") {
		t.Errorf("version %q must start with v", version)
	}
	_, errOut, code := berthRun(t, t.TempDir(), nil, "version", "--format", "xml")
	if code != 1 || !strings.Contains(errOut, `format value "xml" could not be parsed`) {
		t.Errorf("bad format: %d %q", code, errOut)
	}
}

func TestCompletion(t *testing.T) {
	dir := project(t, "p", map[string]string{"compose.yaml": `services:
  web: {image: nginx, profiles: [front]}
  api: {image: api}
  db: {image: postgres, profiles: [data]}
`})
	complete := func(args ...string) []string {
		t.Helper()
		out, errOut, code := berthRun(t, dir, nil, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("__complete %v: %d %s", args, code, errOut)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"service names, every profile", []string{"config", ""}, "api db web"},
		{"service names by prefix", []string{"config", "w"}, "web"},
		{"service names not repeated", []string{"config", "api", ""}, "db web"},
		{"--progress values", []string{"--progress", ""}, "auto tty plain json quiet"},
		{"--ansi values", []string{"config", "--ansi", ""}, "never always auto"},
		{"config --format values", []string{"config", "--format", ""}, "yaml json"},
		{"version --format values", []string{"version", "--format", ""}, "pretty json"},
		{"--profile values", []string{"--profile", ""}, "data front"},
		{"--hash values", []string{"config", "--hash", "d"}, "db"},
		{"commands", []string{"conf"}, "config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(complete(tc.args...), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	out, _, code := berthRun(t, dir, nil, "completion", "bash")
	if code != 0 || !strings.Contains(out, "__start_berth") {
		t.Errorf("completion bash: %d %.80q", code, out)
	}
}
