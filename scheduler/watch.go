package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/scheduler/watch"
)

// WatchLog receives watch's messages, one line each: Log what it does
// ("Watch enabled", "Syncing service …"), Err what went wrong. Calls
// come from one goroutine at a time.
type WatchLog interface {
	Log(msg string)
	Err(msg string)
}

// WatchOptions are watch's options.
type WatchOptions struct {
	// Log receives watch's messages (required).
	Log WatchLog
	// Stdout and Stderr receive the output of sync+exec commands (nil:
	// discarded).
	Stdout, Stderr io.Writer
	// Quiet is the debounce period (0: docker compose's 500 ms).
	Quiet time.Duration
}

// Watch is a project's develop.watch rules checked and ready to run. It
// holds the project's watch lock from NewWatch to Close: one watch per
// project at a time, as docker compose's pid file makes it.
type Watch struct {
	s     *Service
	p     *types.Project
	opts  WatchOptions
	rules []watchRule
	// paths are the host paths to watch (a sync path under a bind mount is
	// not watched: the container sees it already).
	paths []string
	// initial are the rules to sync before watching (initial_sync).
	initial []watchRule
	lock    *state.FileLock
}

// watchRule is one develop.watch entry of a service with its matchers.
type watchRule struct {
	service string
	types.Trigger
	include watch.Matcher
	ignore  watch.Matcher
	// bindMounted: a sync rule whose path a bind mount already shows.
	bindMounted bool
}

// NewWatch checks the develop.watch rules of p's services, as docker
// compose's watch does before it starts, and takes the project's watch
// lock. It changes nothing else: the caller may run `up` between NewWatch
// and Run. Close releases the lock.
func (s *Service) NewWatch(ctx context.Context, p *types.Project, opts WatchOptions) (_ *Watch, err error) {
	if opts.Log == nil {
		return nil, kindErrorf(errdefs.ErrInvalidArgument, "watch: a log is required")
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	w := &Watch{s: s, p: p, opts: opts}
	for _, name := range sortedKeys(p.Services) {
		if err := w.addService(p.Services[name]); err != nil {
			return nil, err
		}
	}
	if len(w.paths) == 0 {
		return nil, kindErrorf(errdefs.ErrFailedPrecondition, "none of the selected services is configured for watch, consider setting a 'develop' section")
	}
	if w.lock, err = s.lockWatch(p.Name); err != nil {
		return nil, err
	}
	return w, ctx.Err()
}

// addService adds svc's rules.
func (w *Watch) addService(svc types.ServiceConfig) error {
	if svc.Develop == nil {
		return nil
	}
	var ignoreFile watch.Matcher = watch.AnyOf{}
	if svc.Build != nil && svc.Build.Context != "" {
		f, err := watch.ReadIgnoreFile(svc.Build.Context, svc.Build.Dockerfile)
		if err != nil {
			return fmt.Errorf("service %q: %w", svc.Name, err)
		}
		ignoreFile = f
	}
	for _, t := range svc.Develop.Watch {
		switch t.Action {
		case types.WatchActionRebuild:
			if svc.Build == nil {
				return kindErrorf(errdefs.ErrInvalidArgument, "can't watch service %q with action %s without a build context",
					svc.Name, t.Action)
			}
			w.opts.Log.Err(fmt.Sprintf("WARNING: service %q: watch action rebuild on %s needs image building, which berth does not support yet: "+
				"changes there will be reported, not applied", svc.Name, t.Path))
		case types.WatchActionSyncExec:
			if len(t.Exec.Command) == 0 {
				return kindErrorf(errdefs.ErrInvalidArgument, "can't watch with action %q on service %s without a command", t.Action, svc.Name)
			}
		case types.WatchActionSync, types.WatchActionSyncRestart, types.WatchActionRestart:
		default:
			return kindErrorf(errdefs.ErrInvalidArgument, "service %q: unknown watch action %q: use sync, sync+restart, sync+exec, restart or rebuild",
				svc.Name, t.Action)
		}
		t.Path = filepath.Clean(t.Path)
		if !filepath.IsAbs(t.Path) {
			return kindErrorf(errdefs.ErrInvalidArgument, "service %q: watch path %q is not absolute", svc.Name, t.Path)
		}
		own, err := watch.NewPatterns(t.Path, t.Ignore)
		if err != nil {
			return fmt.Errorf("service %q: watch ignore: %w", svc.Name, err)
		}
		var include watch.Matcher = watch.Any{}
		if len(t.Include) > 0 {
			if include, err = watch.NewPatterns(t.Path, t.Include); err != nil {
				return fmt.Errorf("service %q: watch include: %w", svc.Name, err)
			}
		}
		r := watchRule{service: svc.Name, Trigger: t, include: include,
			ignore: watch.AnyOf{ignoreFile, watch.Noise(), own}}
		if isSyncAction(t.Action) && bindMounted(t.Path, svc.Volumes) {
			r.bindMounted = true
			w.opts.Log.Err(fmt.Sprintf("WARNING: path %q also declared by a bind mount volume, this path won't be monitored!", t.Path))
		} else {
			w.paths = append(w.paths, t.Path)
			if isSyncAction(t.Action) && initialSync(t) {
				w.initial = append(w.initial, r)
			}
		}
		w.rules = append(w.rules, r)
	}
	return nil
}

// isSyncAction: the actions whose path a bind mount makes useless, as
// docker compose counts them.
func isSyncAction(a types.WatchAction) bool {
	return a == types.WatchActionSync || a == types.WatchActionSyncRestart
}

// initialSync reads initial_sync, or the x-initialSync extension that
// preceded it.
func initialSync(t types.Trigger) bool {
	if t.InitialSync {
		return true
	}
	var legacy bool
	ok, err := t.Extensions.Get("x-initialSync", &legacy)
	return err == nil && ok && legacy
}

// bindMounted reports whether a bind mount's source holds p.
func bindMounted(p string, vols []types.ServiceVolumeConfig) bool {
	for _, v := range vols {
		if v.Type == types.VolumeTypeBind && v.Source != "" && watch.IsChild(filepath.Clean(v.Source), p) {
			return true
		}
	}
	return false
}

// lockWatch takes <run>/projects/<name>/watch.lock and writes its pid in
// it, or says which process watches the project already.
func (s *Service) lockWatch(project string) (*state.FileLock, error) {
	p := filepath.Join(s.paths.Project(project), "watch.lock")
	l, err := state.TryLock(p)
	if errors.Is(err, state.ErrLocked) {
		pid, _ := os.ReadFile(p)
		holder := "another berth watch"
		if n := strings.TrimSpace(string(pid)); n != "" {
			holder += " (pid " + n + ")"
		}
		return nil, kindErrorf(errdefs.ErrConflict, "cannot take exclusive lock for project %q: %s is watching it; stop it first",
			project, holder)
	}
	if err != nil {
		return nil, fmt.Errorf("project %q: %w", project, err)
	}
	f := l.File()
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return l, nil
}

// Close releases the watch lock.
func (w *Watch) Close() error {
	return w.lock.Unlock()
}

// Run syncs the initial_sync rules, then watches until ctx is done,
// applying each batch of changes; it logs "Watch enabled" once watching
// and "Watch disabled" when it stops, and returns nil when ctx ended it.
// A batch that fails is reported on the log and the watch goes on.
func (w *Watch) Run(ctx context.Context) error {
	for _, r := range w.initial {
		if err := w.initialSync(ctx, r); err != nil {
			return err
		}
	}
	nw, err := watch.New(watch.Options{
		Paths: w.paths,
		Keep:  w.wanted,
		Quiet: w.opts.Quiet,
		OnError: func(err error) {
			w.opts.Log.Err("Watch error: " + err.Error())
		},
	})
	if err != nil {
		return err
	}
	w.opts.Log.Log("Watch enabled")
	err = nw.Run(ctx, w.apply)
	w.opts.Log.Log("Watch disabled")
	return err
}

// match maps a changed host path onto r: the container path (empty for
// rules without a target) and whether the rule applies.
func (r watchRule) match(hostPath string) (string, bool) {
	if !watch.IsChild(r.Path, hostPath) {
		return "", false
	}
	if ok, err := r.include.Matches(hostPath); err != nil || !ok {
		return "", false
	}
	if ok, err := r.ignore.Matches(hostPath); err != nil || ok {
		return "", false
	}
	if r.Target == "" {
		return "", true
	}
	rel, err := filepath.Rel(r.Path, hostPath)
	if err != nil {
		return "", false
	}
	return path.Join(r.Target, filepath.ToSlash(rel)), true
}

// wanted reports whether some rule applies to a changed path.
func (w *Watch) wanted(hostPath string) bool {
	for _, r := range w.rules {
		if _, ok := r.match(hostPath); ok {
			return true
		}
	}
	return false
}

// batchPlan is what one batch of changes asks for, by service.
type batchPlan struct {
	sync    map[string][]pathMapping
	restart map[string]bool
	rebuild map[string]bool
	// exec are indexes into the rules, each once, in order.
	exec map[string][]int
}

// plan maps a batch onto the rules.
func (w *Watch) plan(batch []string) batchPlan {
	bp := batchPlan{sync: map[string][]pathMapping{}, restart: map[string]bool{}, rebuild: map[string]bool{}, exec: map[string][]int{}}
	for _, p := range batch {
		for i, r := range w.rules {
			target, ok := r.match(p)
			if !ok {
				continue
			}
			m := pathMapping{host: p, container: target}
			switch r.Action {
			case types.WatchActionRebuild:
				bp.rebuild[r.service] = true
			case types.WatchActionRestart:
				bp.restart[r.service] = true
			case types.WatchActionSync:
				bp.sync[r.service] = append(bp.sync[r.service], m)
			case types.WatchActionSyncRestart:
				bp.sync[r.service] = append(bp.sync[r.service], m)
				bp.restart[r.service] = true
			case types.WatchActionSyncExec:
				bp.sync[r.service] = append(bp.sync[r.service], m)
				if !slices.Contains(bp.exec[r.service], i) {
					bp.exec[r.service] = append(bp.exec[r.service], i)
				}
			}
		}
	}
	for _, ix := range bp.exec {
		slices.Sort(ix)
	}
	return bp
}

// apply carries out one batch: rebuilds are reported as unsupported, then
// files are synced, services restarted and sync+exec commands run, as
// docker compose orders them. A service whose sync failed is neither
// restarted nor exec'd; the other services go on.
func (w *Watch) apply(ctx context.Context, batch []string) {
	bp := w.plan(batch)
	var errs []error
	for _, svc := range sortedKeys(bp.rebuild) {
		errs = append(errs, kindErrorf(errdefs.ErrNotImplemented, "service %q: rebuild after changes were detected needs image building, which berth does not support yet; "+
			"build the image elsewhere, bring it in with `berth image load`, then run `berth up`", svc))
	}
	failed := map[string]bool{}
	for _, svc := range sortedKeys(bp.sync) {
		maps := bp.sync[svc]
		w.opts.Log.Log(fmt.Sprintf("Syncing service %q after %d changes were detected", svc, len(maps)))
		if err := w.s.syncService(ctx, w.p.Name, svc, maps); err != nil {
			failed[svc] = true
			errs = append(errs, err)
		}
	}
	var restart []string
	for _, svc := range sortedKeys(bp.restart) {
		if !failed[svc] {
			restart = append(restart, svc)
		}
	}
	if len(restart) > 0 {
		if err := w.s.Restart(ctx, w.p.Name, StopOptions{Services: w.restartSet(restart)}); err != nil {
			errs = append(errs, err)
		} else {
			w.opts.Log.Log(fmt.Sprintf("service(s) %q restarted", restart))
		}
	}
	eg, ectx := errgroup.WithContext(ctx)
	for _, svc := range sortedKeys(bp.exec) {
		if failed[svc] {
			continue
		}
		for _, i := range bp.exec[svc] {
			if err := w.exec(ectx, eg, svc, w.rules[i].Exec); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := eg.Wait(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		w.opts.Log.Err("Error handling changed files: " + err.Error())
	}
}

// restartSet is services and, transitively, the services that depend on
// one of them with `restart: true`, as docker compose's restart takes
// them.
func (w *Watch) restartSet(services []string) []string {
	set := map[string]bool{}
	todo := slices.Clone(services)
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if set[name] {
			continue
		}
		set[name] = true
		todo = append(todo, dependents(w.p, name, func(d types.ServiceDependency) bool { return d.Restart })...)
	}
	return sortedKeys(set)
}

// exec starts hook in every running container of svc, in eg.
func (w *Watch) exec(ctx context.Context, eg *errgroup.Group, svc string, hook types.ServiceHook) error {
	cs, err := w.s.projectContainers(ctx, w.p.Name, filter{services: []string{svc}})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if !c.State.Running {
			continue
		}
		eg.Go(func() error {
			code, err := w.s.engine.Exec(ctx, c.ID, engine.ExecOptions{
				Cmd: hook.Command, Env: envList(hook.Environment), User: hook.User,
				WorkingDir: hook.WorkingDir, Privileged: hook.Privileged,
				Stdout: w.opts.Stdout, Stderr: w.opts.Stderr,
			})
			if err != nil {
				return fmt.Errorf("service %q: exec %q in container %s: %w", svc, []string(hook.Command), c.Name, err)
			}
			if code != 0 {
				return fmt.Errorf("service %q: exec %q in container %s: exit code %d", svc, []string(hook.Command), c.Name, code)
			}
			return nil
		})
	}
	return nil
}

// initialSync copies the files under r's path that changed since the
// service's image was made (as docker compose's initial_sync: older files
// are the image's own), skipping what r ignores and what a bind mount
// shows already.
func (w *Watch) initialSync(ctx context.Context, r watchRule) error {
	since, err := w.imageCreated(ctx, r.service)
	if err != nil {
		return err
	}
	svc := w.p.Services[r.service]
	var maps []pathMapping
	err = filepath.WalkDir(r.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != r.Path {
			if ignored, _ := r.ignore.Matches(p); ignored || bindMounted(p, svc.Volumes) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() {
			return nil
		}
		target, ok := r.match(p)
		if !ok {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return skipGone(err)
		}
		if info.ModTime().After(since) {
			maps = append(maps, pathMapping{host: p, container: target})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("service %q: initial sync of %s: %w", r.service, r.Path, err)
	}
	if len(maps) == 0 {
		return nil
	}
	return w.s.syncService(ctx, w.p.Name, r.service, maps)
}

// imageCreated is the creation time of the image of service's first
// container.
func (w *Watch) imageCreated(ctx context.Context, service string) (time.Time, error) {
	if err := w.s.need("image store", w.s.images != nil); err != nil {
		return time.Time{}, err
	}
	cs, err := w.s.projectContainers(ctx, w.p.Name, filter{services: []string{service}})
	if err != nil {
		return time.Time{}, err
	}
	if len(cs) == 0 {
		return time.Time{}, kindErrorf(errdefs.ErrNotFound, "service %q has no container for initial_sync to fill: run `berth up` first", service)
	}
	img, err := w.s.images.Get(ctx, cs[0].ImageID)
	if err != nil {
		return time.Time{}, fmt.Errorf("service %q: image of container %s: %w", service, cs[0].Name, err)
	}
	return img.Created, nil
}
