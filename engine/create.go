package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/engine/cgroups"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/runtime"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
)

// projectLabel is the compose project label (the cgroup and network owner).
const projectLabel = "com.docker.compose.project"

// noProject is the cgroup level of containers outside any compose project.
const noProject = "default"

func validName(name string) error {
	if !names.Valid(name, 1, 253) {
		return fmt.Errorf("invalid container name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Create makes a container from spec without starting it: the image is
// resolved (ErrNotFound naming it when absent: pull first), its defaults
// merged in as docker does, the writable layer prepared and config.json
// written. The name is unique per root (ErrAlreadyExists).
func (e *Engine) Create(ctx context.Context, spec ContainerSpec) (_ *Container, err error) {
	if e.images == nil || e.snaps == nil {
		return nil, fmt.Errorf("engine: Create needs an image store and a snapshotter: %w", errdefs.ErrFailedPrecondition)
	}
	if err := e.validate(&spec); err != nil {
		return nil, err
	}
	img, err := e.images.Get(ctx, spec.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("container %s: image %s is not present; pull it first: %w", spec.Name, spec.Image, err)
		}
		return nil, fmt.Errorf("container %s: image %s: %w", spec.Name, spec.Image, err)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	// The op lock is held until config.json exists: Sweep takes a
	// directory without one and without the lock for a leftover.
	lk, err := e.opLock(ctx, id)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	if err := e.reserveName(ctx, spec.Name, id); err != nil {
		return nil, err
	}
	dir := e.paths.Container(id)
	defer func() {
		if err != nil {
			cctx := context.WithoutCancel(ctx)
			_ = e.snaps.Cleanup(cctx, dir)
			_ = monitor.RemoveFiles(cctx, e.paths, id, spec.Name)
		}
	}()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	rootfs, err := e.snaps.Prepare(ctx, dir, img.ChainIDs)
	if err != nil {
		return nil, fmt.Errorf("container %s: root filesystem: %w", spec.Name, err)
	}
	rec, err := e.resolveRecord(id, spec, img)
	if err != nil {
		return nil, err
	}
	rec.Monitor.Init.Rootfs = rootfs
	for _, f := range []string{monitor.HostsFile, monitor.HostnameFile, monitor.ResolvConfFile} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, monitor.RootfsDir), 0o755); err != nil {
		return nil, err
	}
	// Not synced: a missing state reads as "created" anyway.
	if err := state.WriteJSON(filepath.Join(dir, monitor.LastStateFile), &monitor.State{Version: monitor.Version, Status: monitor.StatusCreated, BootID: e.boot}, false); err != nil {
		return nil, err
	}
	if err := state.WriteJSON(e.configPath(id), rec, true); err != nil {
		return nil, err
	}
	c := e.container(&rec.recordHead, observed{st: monitor.State{Status: monitor.StatusCreated}})
	e.event(c, "create", nil)
	return c, nil
}

// validate checks what BuildConfig does not and fills defaults in spec.
func (e *Engine) validate(spec *ContainerSpec) error {
	if err := validName(spec.Name); err != nil {
		return err
	}
	if spec.Image == "" {
		return fmt.Errorf("container %s: no image: %w", spec.Name, errdefs.ErrInvalidArgument)
	}
	switch spec.Restart.Name {
	case "", "no", "always", "unless-stopped":
	case "on-failure":
		if spec.Restart.MaxRetries < 0 {
			return fmt.Errorf("container %s: restart on-failure: max retries %d must not be negative: %w", spec.Name, spec.Restart.MaxRetries, errdefs.ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("container %s: restart policy %q: use no, always, on-failure[:N] or unless-stopped: %w", spec.Name, spec.Restart.Name, errdefs.ErrInvalidArgument)
	}
	if spec.AutoRemove && spec.Restart.Name != "" && spec.Restart.Name != "no" {
		return fmt.Errorf("container %s: auto-remove and restart policy %q conflict: %w", spec.Name, spec.Restart.Name, errdefs.ErrInvalidArgument)
	}
	switch spec.Logging.Driver {
	case "", "json-file", "local", "none":
	default:
		return fmt.Errorf("container %s: logging driver %q is not supported (json-file, none): %w", spec.Name, spec.Logging.Driver, errdefs.ErrInvalidArgument)
	}
	mode := spec.Network.Mode
	switch {
	case mode == "":
		if len(spec.Network.Interfaces) > 0 {
			spec.Network.Mode = "bridge"
		} else {
			spec.Network.Mode = "none"
		}
	case mode == "none", mode == "host", mode == "bridge":
	case strings.HasPrefix(mode, "container:"):
	default:
		return fmt.Errorf("container %s: network mode %q: use bridge, none, host or container:<id>: %w", spec.Name, mode, errdefs.ErrInvalidArgument)
	}
	if spec.Network.Mode == "bridge" && e.net == nil {
		return fmt.Errorf("container %s: bridge networking needs the network manager, which this engine was built without: %w", spec.Name, errdefs.ErrFailedPrecondition)
	}
	if h := spec.Healthcheck; h != nil {
		if h.Interval < 0 || h.Timeout < 0 || h.StartPeriod < 0 || h.StartInterval < 0 || h.Retries < 0 {
			return fmt.Errorf("container %s: healthcheck durations and retries must not be negative: %w", spec.Name, errdefs.ErrInvalidArgument)
		}
		if len(h.Test) > 0 && !slices.Contains([]string{"NONE", "CMD", "CMD-SHELL"}, h.Test[0]) {
			return fmt.Errorf("container %s: healthcheck test must start with NONE, CMD or CMD-SHELL: %w", spec.Name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// reserveName takes name for id in the name index: a file holding the id,
// linked into place (atomic, complete, and failing when the name exists).
// An entry whose container is gone is replaced, under the index lock.
func (e *Engine) reserveName(ctx context.Context, name, id string) error {
	dir := filepath.Dir(monitor.NamePath(e.paths, name))
	p := monitor.NamePath(e.paths, name)
	tmp, err := os.CreateTemp(dir, ".name-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(id)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), p); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrExist) {
		return err
	}
	lk, err := state.Lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return err
	}
	defer lk.Unlock()
	owner, err := os.ReadFile(p)
	if err == nil && !e.nameStale(string(owner)) {
		return fmt.Errorf("container name %q is already in use by container %.12s; remove it or choose another name: %w", name, owner, errdefs.ErrAlreadyExists)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return nil
}

// nameStale reports whether the container owning a name entry is gone
// (neither complete nor being created).
func (e *Engine) nameStale(owner string) bool {
	if !isID(owner) {
		return true
	}
	if _, err := os.Stat(e.configPath(owner)); err == nil {
		return false
	}
	lk, err := state.TryLock(filepath.Join(e.paths.ContainerRun(owner), monitor.OpLockFile))
	if err != nil {
		return false // being created right now
	}
	_ = lk.Unlock()
	_, err = os.Stat(e.configPath(owner))
	return errors.Is(err, os.ErrNotExist)
}

// resolveRecord merges the image's defaults into spec as docker does and
// builds the init's configuration.
func (e *Engine) resolveRecord(id string, spec ContainerSpec, img *image.Image) (*record, error) {
	ic := img.Config
	entrypoint, cmd := ic.Entrypoint, ic.Cmd
	if spec.Entrypoint != nil {
		// compose `entrypoint` resets the image's Cmd unless `command` is given.
		entrypoint, cmd = spec.Entrypoint, nil
	}
	if spec.Cmd != nil {
		cmd = spec.Cmd
	}
	args := append(slices.Clone(entrypoint), cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("container %s: no command specified: the image has no Entrypoint or Cmd; set command: %w", spec.Name, errdefs.ErrInvalidArgument)
	}
	env := mergeEnv(ic.Env, spec.Env)
	if spec.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	cwd := spec.WorkingDir
	if cwd == "" {
		cwd = ic.WorkingDir
	}
	user := spec.User
	if user == "" {
		user = ic.User
	}
	stopSignal := spec.StopSignal
	if stopSignal == "" {
		stopSignal = ic.StopSignal
	}
	if stopSignal == "" {
		stopSignal = "SIGTERM"
	}
	if _, err := monitor.ParseSignal(stopSignal); err != nil {
		return nil, fmt.Errorf("container %s: stop_signal: %w", spec.Name, err)
	}
	hostname := spec.Hostname
	netMode := spec.Network.Mode
	if hostname == "" && netMode != "host" {
		hostname = id[:12]
	}
	dir := e.paths.Container(id)
	in := runtime.SpecInput{
		ID: id, RootfsDir: filepath.Join(dir, monitor.RootfsDir),
		Args: args, Env: env, Cwd: cwd, User: user, GroupAdd: spec.GroupAdd,
		Hostname: hostname, Domainname: spec.Domainname,
		CapAdd: spec.CapAdd, CapDrop: spec.CapDrop, Privileged: spec.Privileged,
		SecurityOpt: spec.SecurityOpt, DeviceCgroupRules: spec.DeviceCgroupRules,
		Sysctls: spec.Sysctls, ShmSize: spec.Resources.ShmSize, ReadOnly: spec.ReadOnly,
		Tty: spec.Tty, Init: spec.Init,
	}
	if cs := spec.ConsoleSize; spec.Tty && cs != nil {
		in.ConsoleRows, in.ConsoleCols = cs.Rows, cs.Cols
	}
	if spec.Resources.OomScoreAdj != 0 {
		adj := spec.Resources.OomScoreAdj
		in.OomScoreAdj = &adj
	}
	for _, d := range spec.Devices {
		in.Devices = append(in.Devices, runtime.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, Permissions: d.CgroupPermissions})
	}
	for _, u := range spec.Ulimits {
		in.Ulimits = append(in.Ulimits, runtime.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, m := range spec.Mounts {
		in.Mounts = append(in.Mounts, runtimeMount(m))
	}
	for _, f := range [][2]string{{monitor.HostsFile, "/etc/hosts"}, {monitor.HostnameFile, "/etc/hostname"}, {monitor.ResolvConfFile, "/etc/resolv.conf"}} {
		in.Files = append(in.Files, runtime.Mount{Type: "bind", Source: filepath.Join(dir, f[0]), Target: f[1], Options: []string{"rbind", "rprivate"}})
	}
	var joins joinTargets
	var err error
	if in.Net, joins.Net, err = e.namespaceMode("network", netMode); err != nil {
		return nil, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	if in.IPC, joins.IPC, err = e.namespaceMode("ipc", spec.IPC); err != nil {
		return nil, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	if in.PID, joins.PID, err = e.namespaceMode("pid", spec.PID); err != nil {
		return nil, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	if netMode == "host" {
		in.UTS = runtime.NamespaceHost
	}
	cfg, err := runtime.BuildConfig(in)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	project := spec.Labels[projectLabel]
	cgProject := project
	if cgProject == "" {
		cgProject = noProject
	}
	limits := cgroupLimits(spec.Resources)
	// cfg.DeviceRules is the whole list (docker's defaults included); the
	// cgroups part applies it after denying everything, adding nothing.
	limits.Devices = cfg.DeviceRules
	limits.AllowAllDevices = spec.Privileged
	hc := mergeHealthcheck(spec.Healthcheck, ic.Healthcheck)
	logCfg, err := logConfig(spec)
	if err != nil {
		return nil, err
	}
	rec := &record{
		recordHead: recordHead{
			Version: recordVersion, ID: id, Name: spec.Name, Created: time.Now().UTC(),
			Spec: spec, ImageID: img.ID, Path: args[0], Args: args[1:],
		},
		Monitor: monitor.Config{
			Version: monitor.Version, ID: id, Name: spec.Name, Image: spec.Image,
			Labels: spec.Labels, Project: project, Init: cfg,
			Cgroup:  monitor.CgroupConfig{Root: e.cg.Root(), Parent: e.cg.Parent(), Project: cgProject, Limits: limits},
			Network: spec.Network, Hostname: hostname, OpenStdin: spec.OpenStdin,
			StopSignal: stopSignal, Restart: monitor.RestartPolicy(spec.Restart),
			Health: hc, Log: logCfg, AutoRemove: spec.AutoRemove,
			JoinNet: joins.Net, JoinIPC: joins.IPC, JoinPID: joins.PID,
		},
	}
	if spec.StopGracePeriod != nil {
		d := *spec.StopGracePeriod
		rec.Monitor.StopTimeout = &d
	}
	return rec, nil
}

type joinTargets struct{ Net, IPC, PID string }

// namespaceMode maps "", "host", "none", "bridge" or "container:<id>" to
// the runtime's namespace mode; a container's namespace is joined through
// its current init at each start (the id is returned for the monitor).
func (e *Engine) namespaceMode(kind, mode string) (string, string, error) {
	switch {
	case mode == "" || mode == "none" || mode == "bridge" || mode == "private" || mode == "shareable":
		return runtime.NamespacePrivate, "", nil
	case mode == "host":
		return runtime.NamespaceHost, "", nil
	case strings.HasPrefix(mode, "container:"):
		ref := strings.TrimPrefix(mode, "container:")
		rec, err := e.resolve(ref)
		if err != nil {
			return "", "", fmt.Errorf("%s mode %q: %w", kind, mode, err)
		}
		// A placeholder path: the monitor replaces it at each start.
		return "/proc/self/ns/" + map[string]string{"network": "net", "ipc": "ipc", "pid": "pid"}[kind], rec.ID, nil
	}
	return "", "", fmt.Errorf("%s mode %q: use host, private or container:<id>: %w", kind, mode, errdefs.ErrInvalidArgument)
}

// runtimeMount converts a spec mount for the init.
func runtimeMount(m Mount) runtime.Mount {
	rm := runtime.Mount{Type: m.Type, Source: m.Source, Target: m.Target, CopyUp: m.CopyUp, Propagation: m.Propagation}
	switch m.Type {
	case "tmpfs":
		rm.Source = "tmpfs"
		if m.TmpfsSize > 0 {
			rm.Options = append(rm.Options, fmt.Sprintf("size=%d", m.TmpfsSize))
		}
		mode := m.TmpfsMode
		if mode == 0 {
			mode = 0o1777
		}
		rm.Options = append(rm.Options, fmt.Sprintf("mode=%o", mode))
		if len(m.Options) == 0 {
			rm.Options = append(rm.Options, "nosuid", "nodev")
		}
	case "bind", "":
		rm.Type = "bind"
		rm.Options = append(rm.Options, "rbind")
	default:
		// A volume with its own filesystem (driver_opts type/device/o):
		// mounted from its device in the container's namespace.
	}
	// The spec's own options (tmpfs flags, a volume's driver_opts o) come
	// last, so they override the defaults above.
	rm.Options = append(rm.Options, m.Options...)
	if m.ReadOnly {
		rm.Options = append(rm.Options, "ro")
	}
	return rm
}

func cgroupLimits(r Resources) cgroups.Limits {
	return cgroups.Limits{
		Memory: r.Memory, MemorySwap: r.MemorySwap, MemoryReservation: r.MemoryReservation,
		NanoCPUs: r.NanoCPUs, CPUShares: r.CPUShares, CPUQuota: r.CPUQuota, CPUPeriod: r.CPUPeriod,
		CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, PidsLimit: r.PidsLimit,
	}
}

// mergeHealthcheck is docker's merge: the container's test, or the
// image's; each zero duration or count taken from the image.
func mergeHealthcheck(c *Healthcheck, img *image.Healthcheck) *monitor.Healthcheck {
	var h monitor.Healthcheck
	if img != nil {
		h = monitor.Healthcheck{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout,
			StartPeriod: img.StartPeriod, StartInterval: img.StartInterval, Retries: img.Retries}
	}
	if c != nil {
		if len(c.Test) > 0 {
			h.Test = c.Test
		}
		if c.Interval > 0 {
			h.Interval = c.Interval
		}
		if c.Timeout > 0 {
			h.Timeout = c.Timeout
		}
		if c.StartPeriod > 0 {
			h.StartPeriod = c.StartPeriod
		}
		if c.StartInterval > 0 {
			h.StartInterval = c.StartInterval
		}
		if c.Retries > 0 {
			h.Retries = c.Retries
		}
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return &h
}

// logConfig reads the json-file driver's max-size and max-file.
func logConfig(spec ContainerSpec) (monitor.LogConfig, error) {
	lc := monitor.LogConfig{Driver: spec.Logging.Driver, MaxFile: 1}
	if lc.Driver == "" || lc.Driver == "local" {
		lc.Driver = "json-file"
	}
	if s := spec.Logging.Options["max-size"]; s != "" {
		n, err := parseSize(s)
		if err != nil {
			return lc, fmt.Errorf("container %s: logging max-size %q: %w", spec.Name, s, err)
		}
		lc.MaxSize = n
	}
	if s := spec.Logging.Options["max-file"]; s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			return lc, fmt.Errorf("container %s: logging max-file %q must be a positive number: %w", spec.Name, s, errdefs.ErrInvalidArgument)
		}
		lc.MaxFile = n
	}
	return lc, nil
}

// parseSize parses docker's sizes: "10m", "1g", "512k", "100" (bytes).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	t = strings.TrimSuffix(t, "b")
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	var n float64
	if _, err := fmt.Sscan(t, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: %w", errdefs.ErrInvalidArgument)
	}
	return int64(n * float64(mult)), nil
}

// mergeEnv applies over (KEY=VALUE, or KEY alone to unset… as docker keeps
// it) on base; later keys win, order is base's then new keys.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}
