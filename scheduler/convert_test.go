package scheduler

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/compose"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadComposeProject loads yaml with compose.Load (docker compose's labels
// included) from a temporary directory, as project "app".
func loadComposeProject(t testing.TB, yaml string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{
		WorkingDir: dir, ProjectName: "app", Environment: map[string]string{"FROM_ENV": "env-value"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const convertYAML = `
services:
  db:
    image: 127.0.0.1:5000/debian-pg:15
  full:
    image: 127.0.0.1:5000/busybox:1
    entrypoint: [/bin/sh, -c]
    command: echo hi
    environment:
      A: "1"
      FROM_ENV:
      UNSET:
    working_dir: /srv
    user: "1000:1000"
    group_add: [audio]
    hostname: h
    domainname: example.test
    tty: true
    stdin_open: true
    read_only: true
    init: true
    stop_signal: SIGINT
    stop_grace_period: 3s
    privileged: false
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: [no-new-privileges:true]
    devices: ["/dev/null:/dev/xnull:rw"]
    device_cgroup_rules: ["c 1:3 rmw"]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 65535
    mem_limit: 64m
    memswap_limit: 128m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    cpu_quota: 50000
    cpu_period: 100000
    cpuset: "0"
    pids_limit: 100
    oom_score_adj: 100
    shm_size: 16m
    ipc: shareable
    healthcheck:
      test: [CMD, "true"]
      interval: 1s
      timeout: 2s
      retries: 5
      start_period: 3s
      start_interval: 500ms
    restart: on-failure:3
    logging: {driver: json-file, options: {max-size: 1m}}
    labels: {user.label: x}
    depends_on:
      db: {condition: service_started}
  deployed:
    image: 127.0.0.1:5000/busybox:1
    pid: service:db
    healthcheck: {disable: true}
    deploy:
      restart_policy: {condition: any, max_attempts: 2}
      resources:
        limits: {cpus: "1.5", memory: 256m, pids: 50}
        reservations: {memory: 128m}
`

func TestBuildSpecGolden(t *testing.T) {
	p := loadComposeProject(t, convertYAML)
	lookup := func(svc string) (string, error) { return "id-of-" + svc, nil }
	got := map[string]any{}
	for _, name := range []string{"full", "deployed"} {
		spec, err := buildSpec(specInput{Project: p, Service: p.Services[name], Number: 1,
			Name: compose.ContainerName(p.Name, name, 1), Hash: "hash", ImageID: "sha256:img", Lookup: lookup})
		if err != nil {
			t.Fatal(err)
		}
		// The working dir and files are the temporary directory's.
		spec.Labels[compose.LabelWorkingDir] = "WD"
		spec.Labels[compose.LabelConfigFiles] = "FILES"
		got[name] = spec
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "convert.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(b)+"\n" {
		t.Errorf("spec differs from %s (run with -update and review the diff):\n%s", golden, b)
	}
}

func TestBuildSpecOneOffAndErrors(t *testing.T) {
	p := loadComposeProject(t, `
services:
  a:
    image: x
    logging: {driver: syslog}
  b:
    image: x
    ipc: service:a
`)
	_, err := buildSpec(specInput{Project: p, Service: p.Services["a"], Name: "n"})
	if err == nil || err.Error() != `service "a": logging driver "syslog" is not supported (json-file, local or none): not implemented` {
		t.Errorf("logging error: %v", err)
	}
	spec, err := buildSpec(specInput{Project: p, Service: p.Services["b"], Name: "app-b-run-1", OneOff: true, Slug: "s",
		Lookup: func(string) (string, error) { return "cid", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Labels[compose.LabelOneoff] != "True" || spec.Labels[compose.LabelSlug] != "s" || spec.IPC != "container:cid" {
		t.Errorf("one-off spec: %v ipc %q", spec.Labels, spec.IPC)
	}
	if _, ok := spec.Labels[compose.LabelNumber]; ok {
		t.Errorf("one-off has a number label")
	}
}
