package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/compose"
)

// OpKind is the kind of one planned operation.
type OpKind int

// The operations the executor knows. Each maps to one call (or, for a
// recreate, one fixed sequence) on the engine or a manager.
const (
	OpCreateNetwork OpKind = iota + 1
	OpCreateVolume
	OpCreateContainer
	// OpRecreateContainer stops and removes the old container, then
	// creates its replacement under the same name.
	OpRecreateContainer
	OpStartContainer
	OpStopContainer
	// OpRemoveContainer stops the container if it runs, then removes it.
	OpRemoveContainer
	// OpKeep records an up-to-date container left as it is.
	OpKeep
	// OpRecreateNetwork removes a network whose configuration changed and
	// creates it again (its containers are stopped first: Plan.Detach).
	OpRecreateNetwork
	// OpRecreateVolume removes a volume whose configuration changed, with
	// its data, and creates it again (only when the user agreed; its
	// containers are removed first: Plan.Detach).
	OpRecreateVolume
)

// String returns the operation's name as plans print it.
func (k OpKind) String() string {
	switch k {
	case OpCreateNetwork:
		return "CreateNetwork"
	case OpCreateVolume:
		return "CreateVolume"
	case OpCreateContainer:
		return "CreateContainer"
	case OpRecreateContainer:
		return "RecreateContainer"
	case OpStartContainer:
		return "StartContainer"
	case OpStopContainer:
		return "StopContainer"
	case OpRemoveContainer:
		return "RemoveContainer"
	case OpKeep:
		return "Keep"
	case OpRecreateNetwork:
		return "RecreateNetwork"
	case OpRecreateVolume:
		return "RecreateVolume"
	}
	return "Op(" + strconv.Itoa(int(k)) + ")"
}

// Op is one planned operation with the reason it is needed.
type Op struct {
	Kind OpKind
	// Resource identifies the object in the project's terms:
	// "network:default", "volume:data", "service:web:1", "orphan:app-old-1".
	Resource string
	// Name is the object's real name ("app_default", "app-web-1").
	Name string
	// Key is the compose key of a network or volume.
	Key string
	// Service and Number say which replica a container operation is for.
	Service string
	Number  int
	// Container is the existing container the operation acts on (recreate,
	// start, stop, remove, keep).
	Container *ObservedContainer
	// Cause says why ("not found", "config hash changed", …).
	Cause string
}

// ServicePlan is the operations of one service, in the order the executor
// runs them: stops of dependents, scale-down removals, recreates, creates,
// then starts (after the service's dependencies are satisfied).
type ServicePlan struct {
	Service string
	Ops     []Op
}

// Plan is what Up will do. Networks and volumes come first (after the
// containers in the way of a network or volume being recreated are
// stopped or removed), then services in dependency order (each service's
// start waits for its dependencies), then orphans.
type Plan struct {
	Project string
	// Detach stops the containers joined to a network being recreated and
	// removes those that mount a volume being recreated (their anonymous
	// volumes are kept for their replacements).
	Detach   []Op
	Networks []Op
	Volumes  []Op
	Services []ServicePlan
	// Orphans are the removals of containers whose service is no longer in
	// the project (only with RemoveOrphans).
	Orphans []Op
	// OrphanNames are the orphan containers found (reported as a warning
	// when they are not removed).
	OrphanNames []string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	if len(p.Detach)+len(p.Networks)+len(p.Volumes)+len(p.Orphans) > 0 {
		return false
	}
	for _, sp := range p.Services {
		for _, op := range sp.Ops {
			if op.Kind != OpKeep {
				return false
			}
		}
	}
	return true
}

// Ops returns every operation in plan order.
func (p *Plan) Ops() []Op {
	ops := slices.Concat(p.Detach, p.Networks, p.Volumes)
	for _, sp := range p.Services {
		ops = append(ops, sp.Ops...)
	}
	return append(ops, p.Orphans...)
}

// String renders the plan one operation a line, "resource Kind name: cause".
// It is what `up --dry-run` prints and what the planner's tests compare.
func (p *Plan) String() string {
	var b strings.Builder
	for _, op := range p.Ops() {
		fmt.Fprintf(&b, "%s %s %s: %s\n", op.Resource, op.Kind, op.Name, op.Cause)
	}
	return b.String()
}

// Recreate strategies, as docker compose's.
const (
	RecreateDiverged = "diverged"
	RecreateForce    = "force"
	RecreateNever    = "never"
)

// PlanOptions steer the planner.
type PlanOptions struct {
	// Services are the services the user named; empty means all. Named
	// services follow Recreate, the others (dependencies pulled in)
	// RecreateDependencies.
	Services []string
	// Recreate and RecreateDependencies are RecreateDiverged (also ""),
	// RecreateForce or RecreateNever.
	Recreate             string
	RecreateDependencies string
	// RemoveOrphans plans the removal of containers of services that are
	// no longer in the project.
	RemoveOrphans bool
	// NoStart plans creations only.
	NoStart bool
	// RecreateVolumes are the volumes (real names) whose configuration
	// changed and that the user agreed to recreate, losing their data
	// (see DivergedVolumes); a diverged volume not listed is kept as it is.
	RecreateVolumes []string
}

// Desired is the project with what the planner needs beyond it, computed
// by the caller so that planning stays a pure function.
type Desired struct {
	Project *types.Project
	// Hashes is each service's config hash (compose.ServiceHash).
	Hashes map[string]string
	// ImageIDs is each service's current image ID in the store; a service
	// missing here (image not resolved, dry run) is not compared.
	ImageIDs map[string]string
}

// MakePlan compares the desired project with what exists and returns the
// operations that converge one to the other. It is pure: no I/O.
func MakePlan(d Desired, obs *Observed, opts PlanOptions) (*Plan, error) {
	p := d.Project
	plan := &Plan{Project: p.Name}

	r := &reconciler{
		desired:   d,
		opts:      opts,
		observed:  obs.byService(),
		recreated: map[string]bool{},
		stopped:   map[string]string{},
		removed:   map[string]string{},
	}
	r.resources(plan, obs)

	order, err := serviceOrder(p)
	if err != nil {
		return nil, err
	}
	byService := r.observed
	for _, name := range order {
		sp, err := r.service(p.Services[name])
		if err != nil {
			return nil, err
		}
		plan.Services = append(plan.Services, sp)
	}

	for _, svc := range sortedKeys(byService) {
		if _, ok := p.Services[svc]; ok {
			continue
		}
		if _, ok := p.DisabledServices[svc]; ok {
			continue
		}
		for _, c := range byService[svc] {
			plan.OrphanNames = append(plan.OrphanNames, c.Name)
			if opts.RemoveOrphans {
				plan.Orphans = append(plan.Orphans, Op{Kind: OpRemoveContainer, Resource: "orphan:" + c.Name,
					Name: c.Name, Service: svc, Number: c.Number, Container: ptr(c), Cause: "orphaned container"})
			}
		}
	}
	return plan, nil
}

// reconciler carries the state of one planning pass across services, which
// are visited in dependency order.
type reconciler struct {
	desired  Desired
	opts     PlanOptions
	observed map[string][]ObservedContainer
	// recreated is the set of services with a container being recreated.
	recreated map[string]bool
	// stopped maps the ID of a container stopped by an earlier step (a
	// dependency or a network being recreated) to why it starts again.
	stopped map[string]string
	// removed maps the ID of a container removed before the networks and
	// volumes are made (a volume it mounts is recreated) to why it is
	// created again.
	removed map[string]string
}

func (r *reconciler) strategy(svc string) string {
	if len(r.opts.Services) == 0 || slices.Contains(r.opts.Services, svc) {
		return r.opts.Recreate
	}
	return r.opts.RecreateDependencies
}

// mustRecreate returns why c must be recreated, or "" if it need not be.
func (r *reconciler) mustRecreate(s types.ServiceConfig, c ObservedContainer, strategy, parent string) string {
	switch strategy {
	case RecreateNever:
		return ""
	case RecreateForce:
		return "forced"
	}
	if parent != "" {
		return "service " + parent + " it shares a namespace or volumes with is recreated"
	}
	if want := r.desired.Hashes[s.Name]; want != "" && c.ConfigHash != want {
		return "config hash changed"
	}
	if want, ok := r.desired.ImageIDs[s.Name]; ok && want != "" && c.ImageID != "" && c.ImageID != want {
		return "image changed"
	}
	return ""
}

// namespaceParent returns a service that s shares a namespace or volumes
// with and that is being recreated ("" if none): s must follow it, since
// it holds a reference to the old container.
func (r *reconciler) namespaceParent(s types.ServiceConfig) string {
	for _, dep := range namespaceRefs(s) {
		if r.recreated[dep] {
			return dep
		}
	}
	return ""
}

func (r *reconciler) service(s types.ServiceConfig) (ServicePlan, error) {
	sp := ServicePlan{Service: s.Name}
	project := r.desired.Project
	expected := s.GetScale()
	if expected < 0 {
		return sp, fmt.Errorf("service %q: invalid scale %d", s.Name, expected)
	}
	containers := slices.Clone(r.observed[s.Name])
	strategy := r.strategy(s.Name)
	parent := r.namespaceParent(s)

	why := make(map[string]string, len(containers))
	for _, c := range containers {
		why[c.ID] = r.mustRecreate(s, c, strategy, parent)
	}
	// Keep the up-to-date containers with the lowest numbers; scale down
	// removes obsolete ones first, then the highest numbers.
	sort.SliceStable(containers, func(i, j int) bool {
		oi, oj := why[containers[i].ID] != "", why[containers[j].ID] != ""
		if oi != oj {
			return !oi
		}
		return containers[i].Number < containers[j].Number
	})

	res := func(n int) string { return "service:" + s.Name + ":" + strconv.Itoa(n) }
	var removes, recreates, creates, starts []Op
	for i, c := range containers {
		c := c
		if cause := r.removed[c.ID]; cause != "" {
			// Removed with Plan.Detach: made again (inheriting its
			// anonymous volumes) unless scaled away.
			if i < expected {
				name := compose.ServiceContainerName(project.Name, s, c.Number)
				creates = append(creates, Op{Kind: OpCreateContainer, Resource: res(c.Number), Name: name,
					Service: s.Name, Number: c.Number, Container: &c, Cause: cause})
				if !r.opts.NoStart {
					starts = append(starts, Op{Kind: OpStartContainer, Resource: res(c.Number), Name: name,
						Service: s.Name, Number: c.Number, Cause: "created"})
				}
				r.recreated[s.Name] = true
			}
			continue
		}
		if i >= expected {
			removes = append(removes, Op{Kind: OpRemoveContainer, Resource: res(c.Number), Name: c.Name,
				Service: s.Name, Number: c.Number, Container: &c, Cause: "scale down"})
			continue
		}
		if cause := why[c.ID]; cause != "" {
			recreates = append(recreates, Op{Kind: OpRecreateContainer, Resource: res(c.Number), Name: c.Name,
				Service: s.Name, Number: c.Number, Container: &c, Cause: cause})
			if !r.opts.NoStart {
				starts = append(starts, Op{Kind: OpStartContainer, Resource: res(c.Number), Name: c.Name,
					Service: s.Name, Number: c.Number, Cause: "recreated"})
			}
			r.recreated[s.Name] = true
			continue
		}
		switch {
		case r.stopped[c.ID] != "" && !r.opts.NoStart:
			starts = append(starts, Op{Kind: OpStartContainer, Resource: res(c.Number), Name: c.Name,
				Service: s.Name, Number: c.Number, Container: &c, Cause: r.stopped[c.ID]})
		case !c.Running() && !r.opts.NoStart:
			starts = append(starts, Op{Kind: OpStartContainer, Resource: res(c.Number), Name: c.Name,
				Service: s.Name, Number: c.Number, Container: &c, Cause: notRunningCause(c)})
		default:
			sp.Ops = append(sp.Ops, Op{Kind: OpKeep, Resource: res(c.Number), Name: c.Name,
				Service: s.Name, Number: c.Number, Container: &c, Cause: "up to date"})
		}
	}

	next := 1
	for _, c := range r.observed[s.Name] {
		next = max(next, c.Number+1)
	}
	for i := len(containers); i < expected; i++ {
		n := next
		next++
		name := compose.ServiceContainerName(project.Name, s, n)
		cause := "no existing container"
		if len(containers) > 0 {
			cause = "scale up"
		}
		creates = append(creates, Op{Kind: OpCreateContainer, Resource: res(n), Name: name,
			Service: s.Name, Number: n, Cause: cause})
		if !r.opts.NoStart {
			starts = append(starts, Op{Kind: OpStartContainer, Resource: res(n), Name: name,
				Service: s.Name, Number: n, Cause: "created"})
		}
	}

	// Dependents with `restart: true` are stopped before this service's
	// containers are replaced, and started again after it (their own
	// step plans the start).
	var stops []Op
	if r.recreated[s.Name] {
		for _, dep := range dependents(project, s.Name, func(d types.ServiceDependency) bool { return d.Restart }) {
			for _, c := range r.observed[dep] {
				if _, done := r.stopped[c.ID]; done || r.removed[c.ID] != "" || !c.Running() {
					continue
				}
				c := c
				r.stopped[c.ID] = "restart after dependency " + s.Name + " was recreated"
				stops = append(stops, Op{Kind: OpStopContainer, Resource: "service:" + dep + ":" + strconv.Itoa(c.Number),
					Name: c.Name, Service: dep, Number: c.Number, Container: &c,
					Cause: "dependency " + s.Name + " being recreated"})
			}
		}
	}
	sp.Ops = slices.Concat(stops, removes, recreates, creates, starts, sp.Ops)
	return sp, nil
}

func notRunningCause(c ObservedContainer) string {
	switch c.Status {
	case "exited":
		return fmt.Sprintf("not running (exited %d)", c.ExitCode)
	case "":
		return "not running"
	}
	return "not running (" + string(c.Status) + ")"
}

// namespaceRefs are the services s refers to by network_mode, ipc, pid
// ("service:X") and volumes_from.
func namespaceRefs(s types.ServiceConfig) []string {
	var refs []string
	for _, mode := range []string{s.NetworkMode, s.Ipc, s.Pid} {
		if name, ok := strings.CutPrefix(mode, "service:"); ok {
			refs = append(refs, name)
		}
	}
	for _, vf := range s.VolumesFrom {
		if strings.HasPrefix(vf, "container:") {
			continue
		}
		name, _, _ := strings.Cut(vf, ":")
		refs = append(refs, name)
	}
	return refs
}

// serviceDeps are the services s depends on in any way (depends_on, links,
// namespaces, volumes_from), restricted to services of p.
func serviceDeps(p *types.Project, s types.ServiceConfig) []string {
	set := map[string]bool{}
	for dep := range s.DependsOn {
		set[dep] = true
	}
	for _, l := range s.Links {
		name, _, _ := strings.Cut(l, ":")
		set[name] = true
	}
	for _, dep := range namespaceRefs(s) {
		set[dep] = true
	}
	var deps []string
	for dep := range set {
		if _, ok := p.Services[dep]; ok && dep != s.Name {
			deps = append(deps, dep)
		}
	}
	sort.Strings(deps)
	return deps
}

// dependents are the services of p that depend on name with a depends_on
// entry accepted by filter, sorted.
func dependents(p *types.Project, name string, filter func(types.ServiceDependency) bool) []string {
	var out []string
	for _, key := range sortedKeys(p.Services) {
		if d, ok := p.Services[key].DependsOn[name]; ok && filter(d) {
			out = append(out, key)
		}
	}
	return out
}

// serviceOrder returns p's services in dependency order (dependencies
// first, ties by name), or an error naming a cycle.
func serviceOrder(p *types.Project) ([]string, error) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for name, s := range p.Services {
		deps := serviceDeps(p, s)
		indeg[name] = len(deps)
		for _, d := range deps {
			users[d] = append(users[d], name)
		}
	}
	var ready []string
	for name, n := range indeg {
		if n == 0 {
			ready = append(ready, name)
		}
	}
	order := make([]string, 0, len(indeg))
	for len(ready) > 0 {
		sort.Strings(ready)
		next := ready[0]
		ready = ready[1:]
		order = append(order, next)
		for _, u := range users[next] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(indeg) {
		var left []string
		for name, n := range indeg {
			if n > 0 {
				left = append(left, name)
			}
		}
		sort.Strings(left)
		return nil, fmt.Errorf("dependency cycle among services %s", strings.Join(left, ", "))
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }
