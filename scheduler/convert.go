package scheduler

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// specInput is one container to translate: a service of a project, the
// replica number and name, and what was resolved for it.
type specInput struct {
	Project *types.Project
	Service types.ServiceConfig
	// Number is the replica number; 0 for a one-off container.
	Number int
	Name   string
	// Hash is the service's config hash (compose.ServiceHash).
	Hash string
	// ImageID is the image's ID in the store ("" when not known).
	ImageID string
	// OneOff marks a `run` container; Slug is its unique id.
	OneOff bool
	Slug   string
	// Lookup resolves a service name to the ID of its first container, for
	// ipc and pid "service:X".
	Lookup func(service string) (string, error)
}

// buildSpec translates a compose service into the engine's ContainerSpec:
// labels, process, security, resources, healthcheck, restart and logging.
// Networks (serviceNetworkSpec) and mounts (resolveMounts) are filled in by
// the caller.
func buildSpec(in specInput) (engine.ContainerSpec, error) {
	s := in.Service
	spec := engine.ContainerSpec{
		Name:              in.Name,
		Labels:            containerLabels(in),
		Image:             compose.ImageName(in.Project.Name, s),
		Platform:          s.Platform,
		Env:               envList(s.Environment),
		WorkingDir:        s.WorkingDir,
		User:              s.User,
		GroupAdd:          s.GroupAdd,
		Hostname:          s.Hostname,
		Domainname:        s.DomainName,
		Tty:               s.Tty,
		OpenStdin:         s.StdinOpen,
		ReadOnly:          s.ReadOnly,
		StopSignal:        s.StopSignal,
		Privileged:        s.Privileged,
		CapAdd:            s.CapAdd,
		CapDrop:           s.CapDrop,
		SecurityOpt:       s.SecurityOpt,
		DeviceCgroupRules: s.DeviceCgroupRules,
		Resources:         resources(s),
		Healthcheck:       healthcheck(s.HealthCheck),
		Restart:           restartPolicy(s),
	}
	if s.Entrypoint != nil {
		spec.Entrypoint = append([]string{}, s.Entrypoint...)
	}
	if s.Command != nil {
		spec.Cmd = append([]string{}, s.Command...)
	}
	if s.Init != nil {
		spec.Init = *s.Init
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		spec.StopGracePeriod = &d
	}
	for _, d := range s.Devices {
		target := d.Target
		if target == "" {
			target = d.Source
		}
		spec.Devices = append(spec.Devices, engine.Device{PathOnHost: d.Source, PathInContainer: target,
			CgroupPermissions: d.Permissions})
	}
	if len(s.Sysctls) > 0 {
		spec.Sysctls = maps.Clone(map[string]string(s.Sysctls))
	}
	for _, name := range sortedKeys(s.Ulimits) {
		u := s.Ulimits[name]
		soft, hard := u.Single, u.Single
		if u.Soft != 0 || u.Hard != 0 {
			soft, hard = u.Soft, u.Hard
		}
		spec.Ulimits = append(spec.Ulimits, engine.Ulimit{Name: name, Soft: int64(soft), Hard: int64(hard)})
	}
	if s.Logging != nil {
		spec.Logging = engine.Logging{Driver: s.Logging.Driver, Options: maps.Clone(map[string]string(s.Logging.Options))}
	} else if s.LogDriver != "" || len(s.LogOpt) > 0 {
		spec.Logging = engine.Logging{Driver: s.LogDriver, Options: maps.Clone(s.LogOpt)}
	}
	switch spec.Logging.Driver {
	case "", "json-file", "local", "none":
	default:
		return spec, fmt.Errorf("service %q: logging driver %q is not supported (json-file, local or none): %w",
			s.Name, spec.Logging.Driver, errdefs.ErrNotImplemented)
	}
	var err error
	if spec.IPC, err = namespaceMode(s.Name, "ipc", s.Ipc, in.Lookup); err != nil {
		return spec, err
	}
	if spec.PID, err = namespaceMode(s.Name, "pid", s.Pid, in.Lookup); err != nil {
		return spec, err
	}
	return spec, nil
}

// containerLabels are the service's labels plus docker compose's.
func containerLabels(in specInput) map[string]string {
	s := in.Service
	l := make(map[string]string, len(s.Labels)+len(s.CustomLabels)+6)
	maps.Copy(l, s.Labels)
	maps.Copy(l, s.CustomLabels)
	l[compose.LabelProject] = in.Project.Name
	l[compose.LabelService] = s.Name
	if l[compose.LabelVersion] == "" {
		l[compose.LabelVersion] = compose.ComposeVersion
	}
	if l[compose.LabelWorkingDir] == "" && in.Project.WorkingDir != "" {
		l[compose.LabelWorkingDir] = in.Project.WorkingDir
	}
	if l[compose.LabelConfigFiles] == "" && len(in.Project.ComposeFiles) > 0 {
		l[compose.LabelConfigFiles] = strings.Join(in.Project.ComposeFiles, ",")
	}
	l[compose.LabelConfigHash] = in.Hash
	l[compose.LabelDependsOn] = compose.DependsOnLabel(s)
	if in.ImageID != "" {
		l[compose.LabelImage] = in.ImageID
	}
	if in.OneOff {
		l[compose.LabelOneoff] = "True"
		if in.Slug != "" {
			l[compose.LabelSlug] = in.Slug
		}
		delete(l, compose.LabelNumber)
	} else {
		l[compose.LabelOneoff] = "False"
		l[compose.LabelNumber] = strconv.Itoa(in.Number)
	}
	return l
}

// envList renders environment as sorted KEY=VALUE; a variable with no
// value (not set in the environment either) is left out, as docker does.
func envList(env types.MappingWithEquals) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		if v == nil {
			continue
		}
		out = append(out, k+"="+*v)
	}
	sort.Strings(out)
	return out
}

// resources maps the service's limits (and deploy.resources, which win,
// as in docker compose) onto cgroup limits.
func resources(s types.ServiceConfig) engine.Resources {
	r := engine.Resources{
		Memory:            int64(s.MemLimit),
		MemorySwap:        int64(s.MemSwapLimit),
		MemoryReservation: int64(s.MemReservation),
		NanoCPUs:          int64(float64(s.CPUS) * 1e9),
		CPUs:              float64(s.CPUS),
		CPUShares:         s.CPUShares,
		CPUQuota:          s.CPUQuota,
		CPUPeriod:         s.CPUPeriod,
		CpusetCpus:        s.CPUSet,
		PidsLimit:         s.PidsLimit,
		OomScoreAdj:       int(s.OomScoreAdj),
		ShmSize:           int64(s.ShmSize),
	}
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes != 0 {
				r.Memory = int64(l.MemoryBytes)
			}
			if l.NanoCPUs != 0 {
				r.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
				r.CPUs = float64(l.NanoCPUs)
			}
			if l.Pids > 0 {
				r.PidsLimit = l.Pids
			}
		}
		if rv := s.Deploy.Resources.Reservations; rv != nil && rv.MemoryBytes != 0 {
			r.MemoryReservation = int64(rv.MemoryBytes)
		}
	}
	return r
}

// healthcheck translates compose's healthcheck; nil means the image's.
func healthcheck(h *types.HealthCheckConfig) *engine.Healthcheck {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &engine.Healthcheck{Test: []string{"NONE"}}
	}
	hc := &engine.Healthcheck{Test: append([]string{}, h.Test...)}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	hc.Interval = dur(h.Interval)
	hc.Timeout = dur(h.Timeout)
	hc.StartPeriod = dur(h.StartPeriod)
	hc.StartInterval = dur(h.StartInterval)
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	if len(hc.Test) == 0 && hc.Interval == 0 && hc.Timeout == 0 && hc.Retries == 0 && hc.StartPeriod == 0 {
		return nil
	}
	return hc
}

// restartPolicy reads restart (and deploy.restart_policy, which wins).
func restartPolicy(s types.ServiceConfig) engine.RestartPolicy {
	var rp engine.RestartPolicy
	if s.Restart != "" {
		name, n, ok := strings.Cut(s.Restart, ":")
		rp.Name = restartName(name)
		if ok {
			rp.MaxRetries, _ = strconv.Atoi(n)
		}
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		p := s.Deploy.RestartPolicy
		rp = engine.RestartPolicy{Name: restartName(p.Condition)}
		if p.MaxAttempts != nil {
			rp.MaxRetries = int(*p.MaxAttempts)
		}
	}
	return rp
}

func restartName(condition string) string {
	switch condition {
	case "none", "no", "":
		return "no"
	case "any", "always":
		return "always"
	}
	return condition
}

// namespaceMode turns ipc/pid "service:X" into "container:<id>".
func namespaceMode(service, key, mode string, lookup func(string) (string, error)) (string, error) {
	switch mode {
	case "private", "shareable":
		return "", nil // docker's defaults: a namespace of its own
	}
	name, ok := strings.CutPrefix(mode, "service:")
	if !ok {
		return mode, nil
	}
	if lookup == nil {
		return "", fmt.Errorf("service %q: %s: service:%s cannot be resolved here: %w", service, key, name, errdefs.ErrInvalidArgument)
	}
	id, err := lookup(name)
	if err != nil {
		return "", fmt.Errorf("service %q: cannot share %s namespace with service %s: %w", service, key, name, err)
	}
	return "container:" + id, nil
}
