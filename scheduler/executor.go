package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/scheduler/graph"
)

// execution runs one Plan. It makes no decisions: every operation, and
// why, is in the plan; it only orders them (networks and volumes, then
// services over the dependency graph, each waiting for its depends_on
// conditions before starting) and reports progress.
type execution struct {
	s      *Service
	p      *types.Project
	plan   *Plan
	images imageSet
	hashes map[string]string
	// timeout overrides stop grace periods for recreations.
	timeout *time.Duration
	noStart bool
	// renewAnon: recreated containers get new anonymous volumes.
	renewAnon bool

	mu sync.Mutex
	// ctrs holds each service's current containers (replica number → ID),
	// kept up to date as operations run; lookups and waits read it.
	ctrs  map[string]map[int]string
	names map[string]string // ID → name
	// observed are the containers as found, by ID.
	observed map[string]*engine.Container

	// gate bounds the starts at once, the longest dependent chains
	// (height) first.
	gate   *startGate
	height map[string]int
}

func newExecution(s *Service, p *types.Project, plan *Plan, obs *observed, images imageSet, hashes map[string]string) *execution {
	x := &execution{s: s, p: p, plan: plan, images: images, hashes: hashes,
		ctrs: map[string]map[int]string{}, names: map[string]string{}, observed: obs.containers,
		gate: newStartGate(startSlots()), height: chainHeights(p)}
	for _, c := range obs.Containers {
		if c.OneOff {
			continue
		}
		x.setContainer(c.Service, c.Number, c.ID, c.Name)
	}
	return x
}

func (x *execution) setContainer(service string, number int, id, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.ctrs[service]
	if m == nil {
		m = map[int]string{}
		x.ctrs[service] = m
	}
	if id == "" {
		delete(m, number)
		return
	}
	m[number] = id
	x.names[id] = name
}

// containers returns the IDs of service's containers, by replica number.
func (x *execution) containers(service string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.ctrs[service]
	nums := make([]int, 0, len(m))
	for n := range m {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	ids := make([]string, 0, len(nums))
	for _, n := range nums {
		ids = append(ids, m[n])
	}
	return ids
}

func (x *execution) name(id string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if n := x.names[id]; n != "" {
		return n
	}
	return id
}

// lookup resolves "service:X" references to X's first container.
func (x *execution) lookup(service string) (string, error) {
	ids := x.containers(service)
	if len(ids) == 0 {
		return "", fmt.Errorf("service %q has no container: %w", service, errdefs.ErrNotFound)
	}
	return ids[0], nil
}

// run executes the plan in two walks. The first creates (and removes,
// and recreates) containers, every service at once except those that
// share a namespace or volumes with another, which follow it: creating a
// container needs no dependency running, so this takes creation off the
// critical path. The second starts them in dependency order, each service
// once its depends_on conditions hold.
func (x *execution) run(ctx context.Context) error {
	if err := x.resources(ctx); err != nil {
		return err
	}
	if err := x.parallel(ctx, x.plan.Orphans, x.remove); err != nil {
		return err
	}
	byService := make(map[string][]Op, len(x.plan.Services))
	names := make([]string, 0, len(x.plan.Services))
	refs := map[string][]graph.Edge{}
	for _, sp := range x.plan.Services {
		byService[sp.Service] = sp.Ops
		names = append(names, sp.Service)
		for _, dep := range namespaceRefs(x.p.Services[sp.Service]) {
			if _, ok := x.p.Services[dep]; ok {
				refs[sp.Service] = append(refs[sp.Service], graph.Edge{To: dep, Required: true, Kind: "namespace"})
			}
		}
	}
	cg, err := graph.New(names, refs)
	if err != nil {
		return err
	}
	err = graph.Walk(ctx, cg, graph.Up, x.s.parallel, func(ctx context.Context, name string) error {
		return x.prepare(ctx, byService[name])
	})
	if err != nil || x.noStart {
		return err
	}
	g, err := graph.FromProject(x.p)
	if err != nil {
		return err
	}
	return graph.Walk(ctx, g, graph.Up, x.s.parallel, func(ctx context.Context, name string) error {
		return x.startService(ctx, name, byService[name])
	})
}

// resources checks that the external networks and volumes exist, stops
// or removes the containers in the way of a network or volume being
// recreated, then makes the planned networks and volumes, all at once: a
// missing external resource fails the command before anything is changed.
func (x *execution) resources(ctx context.Context) error {
	if err := x.checkExternal(ctx); err != nil {
		return err
	}
	err := x.parallel(ctx, x.plan.Detach, func(ctx context.Context, op Op) error {
		if op.Kind == OpRemoveContainer {
			return x.remove(ctx, op)
		}
		return x.stop(ctx, op)
	})
	if err != nil {
		return err
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, op := range x.plan.Networks {
		eg.Go(func() error { return x.createNetwork(ctx, op) })
	}
	for _, op := range x.plan.Volumes {
		eg.Go(func() error { return x.createVolume(ctx, op) })
	}
	return eg.Wait()
}

// checkExternal fails naming the first external network or volume that
// does not exist, and says how to create it.
func (x *execution) checkExternal(ctx context.Context) error {
	for _, key := range sortedKeys(x.p.Networks) {
		n := x.p.Networks[key]
		if !bool(n.External) || x.s.networks == nil {
			continue
		}
		if _, err := x.s.networks.Inspect(ctx, n.Name); err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("network %s declared as external, but could not be found; create it with `berth network create %s`: %w",
					n.Name, n.Name, errdefs.ErrNotFound)
			}
			return err
		}
	}
	for _, key := range sortedKeys(x.p.Volumes) {
		v := x.p.Volumes[key]
		if !bool(v.External) || x.s.volumes == nil {
			continue
		}
		if _, err := x.s.volumes.Get(ctx, v.Name); err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("external volume %q not found; create it with `berth volume create %s`: %w",
					v.Name, v.Name, errdefs.ErrNotFound)
			}
			return err
		}
	}
	return nil
}

func opsOf(ops []Op, kind OpKind) []Op {
	var out []Op
	for _, op := range ops {
		if op.Kind == kind {
			out = append(out, op)
		}
	}
	return out
}

// prepare runs one service's stops, removals, recreations and creations,
// each group in parallel.
func (x *execution) prepare(ctx context.Context, ops []Op) error {
	for _, op := range opsOf(ops, OpKeep) {
		x.s.events.done(containerRes(op.Name), "Running")
	}
	steps := []struct {
		kind OpKind
		fn   func(context.Context, Op) error
	}{
		{OpStopContainer, x.stop},
		{OpRemoveContainer, x.remove},
		{OpRecreateContainer, x.recreate},
		{OpCreateContainer, x.create},
	}
	for _, st := range steps {
		if err := x.parallel(ctx, opsOf(ops, st.kind), st.fn); err != nil {
			return err
		}
	}
	return nil
}

// startService starts one service's containers once its dependencies are
// satisfied.
func (x *execution) startService(ctx context.Context, name string, ops []Op) error {
	starts := opsOf(ops, OpStartContainer)
	if len(starts) == 0 {
		return nil
	}
	if err := x.s.waitDependencies(ctx, x.p, x.p.Services[name], x.containers); err != nil {
		return err
	}
	return x.parallel(ctx, starts, x.start)
}

func (x *execution) parallel(ctx context.Context, ops []Op, fn func(context.Context, Op) error) error {
	switch len(ops) {
	case 0:
		return nil
	case 1:
		return fn(ctx, ops[0])
	}
	eg, ctx := errgroup.WithContext(ctx)
	if x.s.parallel > 0 {
		eg.SetLimit(x.s.parallel)
	}
	for _, op := range ops {
		eg.Go(func() error { return fn(ctx, op) })
	}
	return eg.Wait()
}

// spec builds the container spec of replica number of svc.
func (x *execution) spec(ctx context.Context, svc types.ServiceConfig, number int, name string, previous []engine.Mount) (engine.ContainerSpec, error) {
	img := x.images.byService[svc.Name]
	in := specInput{Project: x.p, Service: svc, Number: number, Name: name, Hash: x.hashes[svc.Name], Lookup: x.lookup}
	if img != nil {
		in.ImageID = img.ID
	}
	spec, err := buildSpec(in)
	if err != nil {
		return spec, err
	}
	return x.s.completeSpec(ctx, x.p, svc, spec, img, x.lookup, previous, x.renewAnon)
}

// create makes a new container. When op.Container is set (a container
// removed so that a volume could be recreated), the new one takes over its
// anonymous volumes, as a recreation does.
func (x *execution) create(ctx context.Context, op Op) error {
	res := containerRes(op.Name)
	x.s.events.working(res, "Creating")
	svc := x.p.Services[op.Service]
	var previous []engine.Mount
	if op.Container != nil {
		if old := x.observed[op.Container.ID]; old != nil {
			previous = old.Spec.Mounts
		}
	}
	spec, err := x.spec(ctx, svc, op.Number, op.Name, previous)
	if err == nil {
		var c *engine.Container
		if c, err = x.s.engine.Create(ctx, spec); err == nil {
			x.setContainer(op.Service, op.Number, c.ID, c.Name)
			x.s.removeAnonymousVolumes(ctx, previous, spec.Mounts)
			x.s.events.done(res, "Created")
			return nil
		}
	}
	err = fmt.Errorf("service %q: create container %s: %w", op.Service, op.Name, err)
	x.s.events.fail(res, err)
	return err
}

func (x *execution) recreate(ctx context.Context, op Op) error {
	res := containerRes(op.Name)
	x.s.events.working(res, "Recreate")
	if err := x.s.stopAndRemove(ctx, op.Container.ID, op.Name, x.timeout, false, false); err != nil {
		x.s.events.fail(res, err)
		return err
	}
	x.setContainer(op.Service, op.Number, "", "")
	svc := x.p.Services[op.Service]
	var previous []engine.Mount
	if old := x.observed[op.Container.ID]; old != nil {
		previous = old.Spec.Mounts
	}
	spec, err := x.spec(ctx, svc, op.Number, op.Name, previous)
	if err == nil {
		spec.Labels[compose.LabelReplace] = op.Container.ID
		var c *engine.Container
		if c, err = x.s.engine.Create(ctx, spec); err == nil {
			x.setContainer(op.Service, op.Number, c.ID, c.Name)
			x.s.removeAnonymousVolumes(ctx, previous, spec.Mounts)
			x.s.events.done(res, "Recreated")
			return nil
		}
	}
	err = fmt.Errorf("service %q: recreate container %s: %w", op.Service, op.Name, err)
	x.s.events.fail(res, err)
	return err
}

func (x *execution) start(ctx context.Context, op Op) error {
	res := containerRes(op.Name)
	ids := x.containersByNumber(op.Service, op.Number)
	if ids == "" {
		return fmt.Errorf("service %q: container %s was not created: %w", op.Service, op.Name, errdefs.ErrNotFound)
	}
	x.s.events.working(res, "Starting")
	if err := x.gate.acquire(ctx, x.height[op.Service]); err != nil {
		x.s.events.fail(res, err)
		return err
	}
	err := x.s.engine.Start(ctx, ids)
	x.gate.release()
	if err != nil {
		err = fmt.Errorf("service %q: start container %s: %w", op.Service, op.Name, err)
		x.s.events.fail(res, err)
		return err
	}
	x.s.events.done(res, "Started")
	return nil
}

func (x *execution) containersByNumber(service string, number int) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ctrs[service][number]
}

func (x *execution) stop(ctx context.Context, op Op) error {
	return x.s.stopContainer(ctx, op.Container.ID, op.Name, x.timeout)
}

func (x *execution) remove(ctx context.Context, op Op) error {
	if err := x.s.stopAndRemove(ctx, op.Container.ID, op.Name, x.timeout, false, true); err != nil {
		return err
	}
	if op.Service != "" && op.Number > 0 && !slices.Contains(x.plan.OrphanNames, op.Name) {
		x.setContainer(op.Service, op.Number, "", "")
	}
	return nil
}

// stopContainer stops one container, reporting why a stop ended with a
// kill (the engine kills at once when PID 1 cannot receive the signal).
func (s *Service) stopContainer(ctx context.Context, id, name string, timeout *time.Duration) error {
	return s.stopContainerOpts(ctx, name, id, engine.StopOptions{Timeout: timeout})
}

// stopContainerOpts is stopContainer with the engine's options (down stops
// with NoWaitCleanup: the removal that follows waits for the monitor, and
// the next container in the stop order need not).
func (s *Service) stopContainerOpts(ctx context.Context, name, id string, opts engine.StopOptions) error {
	res := containerRes(name)
	s.events.working(res, "Stopping")
	r, err := s.engine.Stop(ctx, id, opts)
	if err != nil && !errdefs.IsNotFound(err) {
		err = fmt.Errorf("stop container %s: %w", name, err)
		s.events.fail(res, err)
		return err
	}
	s.events.doneText(res, "Stopped", r.Reason)
	return nil
}

// stopAndRemove stops a container (if it runs) and removes it.
func (s *Service) stopAndRemove(ctx context.Context, id, name string, timeout *time.Duration, volumes, report bool) error {
	c, err := s.engine.Inspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Paused || c.State.Restarting {
		if err := s.stopContainer(ctx, id, name, timeout); err != nil {
			return err
		}
	}
	return s.removeContainer(ctx, c, volumes, report)
}

// removeContainer removes a stopped container (with its anonymous volumes
// when volumes is set).
func (s *Service) removeContainer(ctx context.Context, c *engine.Container, volumes, report bool) error {
	res := containerRes(c.Name)
	if report {
		s.events.working(res, "Removing")
	}
	if err := s.engine.Remove(ctx, c.ID, engine.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
		err = fmt.Errorf("remove container %s: %w", c.Name, err)
		s.events.fail(res, err)
		return err
	}
	if volumes {
		s.removeAnonymousVolumes(ctx, c.Spec.Mounts, nil)
	}
	if report {
		s.events.done(res, "Removed")
	}
	return nil
}

func (x *execution) createNetwork(ctx context.Context, op Op) error {
	res := networkRes(op.Name)
	if err := x.s.need("network manager", x.s.networks != nil); err != nil {
		return err
	}
	specs, err := projectNetworks(x.p)
	if err != nil {
		return err
	}
	for _, spec := range specs {
		if spec.Name != op.Name {
			continue
		}
		if op.Kind == OpRecreateNetwork {
			// docker compose reports the removal as done, then the creation.
			if err := x.s.networks.Remove(ctx, op.Name); err != nil {
				err = fmt.Errorf("network %s: remove it to recreate it: %w", op.Name, err)
				x.s.events.fail(res, err)
				return err
			}
			x.s.events.done(res, "Removed")
		}
		x.s.events.working(res, "Creating")
		if _, err := x.s.networks.Create(ctx, spec); err != nil {
			err = fmt.Errorf("network %s: %w", op.Name, err)
			x.s.events.fail(res, err)
			return err
		}
		x.s.events.done(res, "Created")
		return nil
	}
	return fmt.Errorf("network %s: no spec for it: %w", op.Name, errdefs.ErrNotFound)
}

func (x *execution) createVolume(ctx context.Context, op Op) error {
	res := volumeRes(op.Name)
	if err := x.s.need("volume manager", x.s.volumes != nil); err != nil {
		return err
	}
	if op.Kind == OpRecreateVolume {
		// Its containers are gone (Plan.Detach); Remove still refuses a
		// volume some other container mounts.
		if err := x.s.volumes.Remove(ctx, op.Name, false); err != nil {
			err = fmt.Errorf("volume %s: remove it to recreate it: %w", op.Name, err)
			x.s.events.fail(res, err)
			return err
		}
		x.s.events.done(res, "Removed")
	}
	x.s.events.working(res, "Creating")
	v := x.p.Volumes[op.Key]
	if _, err := x.s.volumes.Create(ctx, volumeSpec(v, projectVolumeLabels(x.p, op.Key, v))); err != nil {
		err = fmt.Errorf("volume %s: %w", op.Name, err)
		x.s.events.fail(res, err)
		return err
	}
	x.s.events.done(res, "Created")
	return nil
}

// removeAnonymousVolumes removes the anonymous volumes of prev that next
// does not reuse (a replaced container's, or all of a removed one's when
// next is nil). Failures are only logged: the volumes stay for `volume prune`.
func (s *Service) removeAnonymousVolumes(ctx context.Context, prev, next []engine.Mount) {
	if s.volumes == nil || len(prev) == 0 {
		return
	}
	names, err := releasedAnonymousVolumes(ctx, s.volumes, prev, next)
	if err != nil {
		s.log.Warn("anonymous volumes", "err", err)
		return
	}
	for _, n := range names {
		if err := s.volumes.Remove(ctx, n, false); err != nil && !errdefs.IsNotFound(err) {
			s.log.Warn("remove anonymous volume", "volume", n, "err", err)
		}
	}
}

// isCanceled reports whether err is a cancellation (Ctrl-C).
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled)
}
