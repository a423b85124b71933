package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/volumes"
)

// volumeManager is what resolveMounts needs of the volume manager
// (*volumes.Manager).
type volumeManager interface {
	// Create returns an existing volume of the same name as it is; an
	// empty Spec.Name makes an anonymous volume.
	Create(ctx context.Context, spec volumes.Spec) (*volumes.Volume, error)
	// Get returns errdefs.ErrNotFound when the volume does not exist.
	Get(ctx context.Context, name string) (*volumes.Volume, error)
}

// mountOptions are the inputs of resolveMounts beyond the service.
type mountOptions struct {
	// VolumesFrom returns the mounts of the container a volumes_from entry
	// names: ref is a service name (its first container) or
	// "container:<name>". nil makes volumes_from an error.
	VolumesFrom func(ctx context.Context, ref string) ([]engine.Mount, error)
	// Previous are the mounts of the container the new one replaces
	// (recreate): its anonymous volumes are reused at the same targets, as
	// docker compose does, unless RenewAnonVolumes.
	Previous         []engine.Mount
	RenewAnonVolumes bool
	// Home expands "~" in bind sources; "" means the user's home directory.
	Home string
	// Logger gets warnings (ignored options); nil discards them.
	Logger *slog.Logger
}

// tmpfsDefaults are docker's flags for every tmpfs mount.
var tmpfsDefaults = []string{"nosuid", "nodev", "noexec"}

// resolveMountsFor translates svc's volumes, tmpfs and volumes_from, and
// imageVolumes (the image's VOLUME entries), into the engine's mounts, in
// mount order (parents before children). Named volumes of the project are
// created when missing (with the compose labels); external ones must exist;
// anonymous ones are made (or taken over from opts.Previous); missing bind
// sources are created as docker compose does unless bind.create_host_path is
// false. Docker's precedence holds at one target: volumes_from, then the
// service's volumes and tmpfs, then the image's VOLUMEs (only where nothing
// else is mounted). Errors name the entry, not the service: the caller
// adds it.
func resolveMountsFor(ctx context.Context, vols volumeManager, p *types.Project, svc types.ServiceConfig,
	imageVolumes []string, opts mountOptions) ([]engine.Mount, error) {
	r := &mountResolver{vols: vols, p: p, svc: svc, opts: opts, byTarget: map[string]engine.Mount{}}
	if r.opts.Logger == nil {
		r.opts.Logger = slog.New(slog.DiscardHandler)
	}
	for _, entry := range svc.VolumesFrom {
		if err := r.volumesFrom(ctx, entry); err != nil {
			return nil, fmt.Errorf("volumes_from %q: %w", entry, err)
		}
	}
	for _, v := range svc.Volumes {
		m, err := r.serviceVolume(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", volumeDesc(v), err)
		}
		r.byTarget[m.Target] = m
	}
	for _, t := range svc.Tmpfs {
		m, err := parseTmpfs(t)
		if err != nil {
			return nil, fmt.Errorf("tmpfs %q: %w", t, err)
		}
		r.byTarget[m.Target] = m
	}
	for _, iv := range imageVolumes {
		target := path.Clean(path.Join("/", iv))
		if _, ok := r.byTarget[target]; ok {
			continue
		}
		m, err := r.anonymous(ctx, target, nil)
		if err != nil {
			return nil, fmt.Errorf("image volume %s: %w", target, err)
		}
		m.CopyUp = true
		r.byTarget[target] = m
	}
	if err := r.secretsAndConfigs(); err != nil {
		return nil, err
	}
	return sortMounts(r.byTarget), nil
}

// sortMounts orders mounts so that a parent is mounted before what lies
// under it (by path depth, then by path), as moby does.
func sortMounts(byTarget map[string]engine.Mount) []engine.Mount {
	out := slices.Collect(maps.Values(byTarget))
	slices.SortFunc(out, func(a, b engine.Mount) int {
		return cmp.Or(cmp.Compare(strings.Count(a.Target, "/"), strings.Count(b.Target, "/")),
			strings.Compare(a.Target, b.Target))
	})
	return out
}

type mountResolver struct {
	vols     volumeManager
	p        *types.Project
	svc      types.ServiceConfig
	opts     mountOptions
	byTarget map[string]engine.Mount
}

// volumeDesc names a service volume entry in errors.
func volumeDesc(v types.ServiceVolumeConfig) string {
	if v.Source == "" {
		return v.Target
	}
	return v.Source + ":" + v.Target
}

func (r *mountResolver) volumesFrom(ctx context.Context, entry string) error {
	parts := strings.Split(entry, ":")
	ref, mode := parts[0], ""
	if parts[0] == "container" {
		if len(parts) < 2 || parts[1] == "" {
			return fmt.Errorf("container name missing: %w", errdefs.ErrInvalidArgument)
		}
		ref = "container:" + parts[1]
		parts = parts[1:]
	}
	if len(parts) > 2 {
		return fmt.Errorf("too many colons: %w", errdefs.ErrInvalidArgument)
	}
	if len(parts) == 2 {
		mode = parts[1]
	}
	if mode != "" && mode != "ro" && mode != "rw" {
		return fmt.Errorf("mode %q is not ro or rw: %w", mode, errdefs.ErrInvalidArgument)
	}
	if r.opts.VolumesFrom == nil {
		return fmt.Errorf("no container lookup: %w", errdefs.ErrFailedPrecondition)
	}
	mounts, err := r.opts.VolumesFrom(ctx, ref)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m.Type == "tmpfs" {
			continue // docker shares volumes and binds, not tmpfs
		}
		m.ReadOnly = m.ReadOnly || mode == "ro"
		m.CopyUp = false
		m.Options = slices.Clone(m.Options)
		r.byTarget[m.Target] = m
	}
	return nil
}

func (r *mountResolver) serviceVolume(ctx context.Context, v types.ServiceVolumeConfig) (engine.Mount, error) {
	if !path.IsAbs(v.Target) {
		return engine.Mount{}, fmt.Errorf("target %q must be an absolute path in the container: %w",
			v.Target, errdefs.ErrInvalidArgument)
	}
	target := path.Clean(v.Target)
	switch v.Type {
	case types.VolumeTypeBind:
		return r.bind(v, target)
	case types.VolumeTypeVolume, "":
		if v.Source == "" {
			var labels map[string]string
			if v.Volume != nil {
				labels = v.Volume.Labels
			}
			m, err := r.anonymous(ctx, target, labels)
			if err != nil {
				return m, err
			}
			m.ReadOnly = v.ReadOnly
			m.CopyUp = v.Volume == nil || !v.Volume.NoCopy
			return m, nil
		}
		return r.named(ctx, v, target)
	case types.VolumeTypeTmpfs:
		m := engine.Mount{Type: "tmpfs", Source: "tmpfs", Target: target, ReadOnly: v.ReadOnly,
			Options: slices.Clone(tmpfsDefaults)}
		if v.Tmpfs != nil {
			m.TmpfsSize = int64(v.Tmpfs.Size)
			m.TmpfsMode = v.Tmpfs.Mode
		}
		return m, nil
	default:
		return engine.Mount{}, fmt.Errorf("mount type %q is not supported (bind, volume and tmpfs are): %w",
			v.Type, errdefs.ErrNotImplemented)
	}
}

// bind resolves a bind mount's host path: "~" expanded, relative to the
// project directory, created when missing unless create_host_path: false.
func (r *mountResolver) bind(v types.ServiceVolumeConfig, target string) (engine.Mount, error) {
	src := v.Source
	if src == "" {
		return engine.Mount{}, fmt.Errorf("bind mount needs a source: %w", errdefs.ErrInvalidArgument)
	}
	if src == "~" || strings.HasPrefix(src, "~/") {
		home := r.opts.Home
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return engine.Mount{}, fmt.Errorf("cannot expand ~ in %q: %w", src, err)
			}
			home = h
		}
		src = filepath.Join(home, src[1:])
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(r.p.WorkingDir, src)
	}
	src = filepath.Clean(src)
	m := engine.Mount{Type: "bind", Source: src, Target: target, ReadOnly: v.ReadOnly}
	create := true
	if b := v.Bind; b != nil {
		create = b.CreateHostPath
		switch b.Propagation {
		case "", types.PropagationPrivate, types.PropagationRPrivate, types.PropagationShared,
			types.PropagationRShared, types.PropagationSlave, types.PropagationRSlave:
			m.Propagation = b.Propagation
		default:
			return m, fmt.Errorf("bind propagation %q is not one of private, rprivate, shared, rshared, slave, rslave: %w",
				b.Propagation, errdefs.ErrInvalidArgument)
		}
		switch b.Recursive {
		case "", "enabled", "readonly", "writable":
		case "disabled":
			r.opts.Logger.Warn("bind.recursive: disabled is not supported; the bind is recursive",
				"service", r.svc.Name, "target", target)
		default:
			return m, fmt.Errorf("bind recursive %q is not one of enabled, disabled, writable, readonly: %w",
				b.Recursive, errdefs.ErrInvalidArgument)
		}
		switch b.SELinux {
		case "":
		case types.SELinuxShared, types.SELinuxPrivate:
			if selinuxEnabled() {
				r.opts.Logger.Warn("SELinux relabelling (:z/:Z) is not supported; the source keeps its label",
					"service", r.svc.Name, "source", src)
			}
		default:
			return m, fmt.Errorf("selinux option %q is not z or Z: %w", b.SELinux, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := os.Stat(src); err != nil {
		if !os.IsNotExist(err) {
			return m, fmt.Errorf("bind source path %s: %w", src, err)
		}
		if !create {
			return m, fmt.Errorf("bind source path does not exist: %s; create it or set bind.create_host_path: true: %w",
				src, errdefs.ErrNotFound)
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return m, fmt.Errorf("create bind source path %s: %w", src, err)
		}
	}
	return m, nil
}

func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// named resolves a named volume: a volume of the project (created when
// missing, external ones must exist) or, as docker does, any other name.
func (r *mountResolver) named(ctx context.Context, v types.ServiceVolumeConfig, target string) (engine.Mount, error) {
	name := v.Source
	var vol *volumes.Volume
	var err error
	if pv, ok := r.p.Volumes[v.Source]; ok {
		name = projectVolumeName(r.p, v.Source, pv)
		if bool(pv.External) {
			if vol, err = r.vols.Get(ctx, name); errdefs.IsNotFound(err) {
				return engine.Mount{}, externalVolumeMissing(name, err)
			}
		} else {
			vol, err = r.vols.Create(ctx, volumeSpec(pv, projectVolumeLabels(r.p, v.Source, pv)))
		}
	} else {
		var labels map[string]string
		if v.Volume != nil {
			labels = v.Volume.Labels
		}
		vol, err = r.vols.Create(ctx, volumes.Spec{Name: name, Labels: labels})
	}
	if err != nil {
		return engine.Mount{}, err
	}
	subpath := ""
	if v.Volume != nil {
		subpath = v.Volume.Subpath
	}
	m, err := volumeMount(vol, subpath, target)
	if err != nil {
		return m, err
	}
	m.ReadOnly = m.ReadOnly || v.ReadOnly
	// Docker copies the image's content into an empty volume unless
	// nocopy; never into a subpath (the volume is shared by design), and
	// here not into tmpfs or device volumes (mounted afresh per container).
	m.CopyUp = m.Type == "bind" && subpath == "" && (v.Volume == nil || !v.Volume.NoCopy)
	return m, nil
}

// externalVolumeMissing is the error for an external volume that does not
// exist: it names it and says how to make it.
func externalVolumeMissing(name string, err error) error {
	return fmt.Errorf("external volume %q not found: create it with `berth volume create %s` or remove `external: true`: %w",
		name, name, errdefs.ErrNotFound)
}

// volumeMount is the engine mount of vol (or its subpath) at target.
func volumeMount(vol *volumes.Volume, subpath, target string) (engine.Mount, error) {
	vm, err := vol.Mount(subpath)
	if err != nil {
		return engine.Mount{}, err
	}
	m := engine.Mount{Type: vm.Type, Source: vm.Source, Target: target, Volume: vol.Name}
	for _, o := range vm.Options {
		switch o {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}

// anonymous makes (or takes over from the previous container) the
// anonymous volume at target.
func (r *mountResolver) anonymous(ctx context.Context, target string, labels map[string]string) (engine.Mount, error) {
	if !r.opts.RenewAnonVolumes {
		for _, prev := range r.opts.Previous {
			if prev.Target != target || prev.Volume == "" {
				continue
			}
			vol, err := r.vols.Get(ctx, prev.Volume)
			if errdefs.IsNotFound(err) || (err == nil && !vol.Anonymous()) {
				break
			}
			if err != nil {
				return engine.Mount{}, err
			}
			return volumeMount(vol, "", target)
		}
	}
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	l[compose.LabelProject] = r.p.Name
	vol, err := r.vols.Create(ctx, volumes.Spec{Labels: l})
	if err != nil {
		return engine.Mount{}, err
	}
	return volumeMount(vol, "", target)
}

// parseTmpfs parses a `tmpfs:` entry, docker's --tmpfs syntax:
// "/run" or "/run:rw,noexec,size=64m,mode=1777".
func parseTmpfs(s string) (engine.Mount, error) {
	target, opts, _ := strings.Cut(s, ":")
	if !path.IsAbs(target) {
		return engine.Mount{}, fmt.Errorf("target must be an absolute path: %w", errdefs.ErrInvalidArgument)
	}
	m := engine.Mount{Type: "tmpfs", Source: "tmpfs", Target: path.Clean(target)}
	flags := map[string]bool{"nosuid": true, "nodev": true, "noexec": true}
	var data []string
	for o := range strings.SplitSeq(opts, ",") {
		o = strings.TrimSpace(o)
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case o == "":
		case o == "ro":
			m.ReadOnly = true
		case o == "rw":
			m.ReadOnly = false
		case o == "exec" || o == "suid" || o == "dev":
			flags["no"+o] = false
			data = append(data, o) // explicit: the runtime defaults to no<o>
		case o == "noexec" || o == "nosuid" || o == "nodev":
			flags[o] = true
		case key == "size" && hasVal:
			n, err := parseTmpfsSize(val)
			if err != nil {
				return m, err
			}
			if n < 0 {
				data = append(data, o) // a percentage: the kernel computes it
			} else {
				m.TmpfsSize = n
			}
		case key == "mode" && hasVal:
			mode, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("mode %q is not octal: %w", val, errdefs.ErrInvalidArgument)
			}
			m.TmpfsMode = uint32(mode)
		default:
			data = append(data, o)
		}
	}
	for _, f := range tmpfsDefaults {
		if flags[f] {
			m.Options = append(m.Options, f)
		}
	}
	m.Options = append(m.Options, data...)
	return m, nil
}

// parseTmpfsSize parses the kernel's tmpfs size: bytes with an optional
// k, m, g, t suffix (any case, "b" after it allowed). A percentage returns
// -1 (passed through).
func parseTmpfsSize(s string) (int64, error) {
	if strings.HasSuffix(s, "%") {
		return -1, nil
	}
	num := strings.TrimSuffix(strings.ToLower(s), "b")
	mult := int64(1)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q is not a size (bytes with k, m, g or t): %w", s, errdefs.ErrInvalidArgument)
	}
	return n * mult, nil
}

// secretsAndConfigs adds the file-based secrets (/run/secrets/<name>) and
// configs (/<name>) as read-only binds where nothing else is mounted, as
// docker compose does. Secrets and configs given by environment or content
// are not mounts (docker compose copies them into the container).
func (r *mountResolver) secretsAndConfigs() error {
	type ref struct {
		kind, source, target, file string
		external                   bool
	}
	var refs []ref
	for _, s := range r.svc.Secrets {
		def := r.p.Secrets[s.Source]
		target := s.Target
		if target == "" {
			target = "/run/secrets/" + s.Source
		} else if !path.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		refs = append(refs, ref{"secret", s.Source, target, def.File, bool(def.External)})
	}
	for _, c := range r.svc.Configs {
		def := r.p.Configs[c.Source]
		target := c.Target
		if target == "" {
			target = "/" + c.Source
		} else if !path.IsAbs(target) {
			target = "/" + target
		}
		refs = append(refs, ref{"config", c.Source, target, def.File, bool(def.External)})
	}
	for _, rf := range refs {
		if rf.external {
			return fmt.Errorf("%s %q: external %ss are not supported: %w", rf.kind, rf.source, rf.kind, errdefs.ErrNotImplemented)
		}
		target := path.Clean(rf.target)
		if rf.file == "" {
			continue
		}
		if _, ok := r.byTarget[target]; ok {
			continue
		}
		if _, err := os.Stat(rf.file); err != nil {
			return fmt.Errorf("%s %q: file %s: %w", rf.kind, rf.source, rf.file, errUnwrap(err))
		}
		r.byTarget[target] = engine.Mount{Type: "bind", Source: rf.file, Target: target, ReadOnly: true}
	}
	return nil
}

func errUnwrap(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		if os.IsNotExist(pe.Err) {
			return fmt.Errorf("%w: %w", pe.Err, errdefs.ErrNotFound)
		}
		return pe.Err
	}
	return err
}
