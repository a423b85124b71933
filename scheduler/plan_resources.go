package scheduler

import (
	"slices"
	"sort"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/compose"
)

// DivergedVolumes returns the volumes of p (real names, sorted) that exist
// with a config-hash label other than their configuration's hash. Docker
// compose asks before it recreates one, since its data is lost; the answers
// go to PlanOptions.RecreateVolumes. An external volume and a volume without
// the label never diverge.
func DivergedVolumes(p *types.Project, obs *Observed) []string {
	var out []string
	for _, key := range sortedKeys(p.Volumes) {
		v := p.Volumes[key]
		if bool(v.External) {
			continue
		}
		have, ok := obs.Volumes[v.Name]
		if !ok {
			continue
		}
		actual, labelled := have.Labels[compose.LabelConfigHash]
		if want, err := volumeHash(v); err == nil && labelled && actual != want {
			out = append(out, v.Name)
		}
	}
	return out
}

// networkDiverged reports whether the observed network has a config-hash
// label other than n's hash (no label: kept as it is, as docker compose).
func networkDiverged(n types.NetworkConfig, have ObservedNetwork) bool {
	actual := have.Labels[compose.LabelConfigHash]
	want, err := networkHash(n)
	return err == nil && actual != "" && actual != want
}

// resources plans the project's networks and volumes, as docker compose's
// ensureNetworks and ensureProjectVolumes: a missing one is created; a
// network whose configuration changed is recreated, after the project's
// containers joined to it are stopped (they start again on the new one); a
// volume whose configuration changed is recreated only when listed in
// RecreateVolumes, after the containers that mount it are removed (they
// are created again, with their anonymous volumes). External networks and
// volumes are never planned.
func (r *reconciler) resources(plan *Plan, obs *Observed) {
	p := r.desired.Project
	// The networks and volumes being recreated, by real name.
	var networks, volumes []string
	for _, key := range sortedKeys(p.Networks) {
		n := p.Networks[key]
		if bool(n.External) {
			continue
		}
		op := Op{Kind: OpCreateNetwork, Resource: "network:" + key, Name: n.Name, Key: key, Cause: "not found"}
		if have, ok := obs.Networks[n.Name]; ok {
			if !networkDiverged(n, have) {
				continue
			}
			op.Kind, op.Cause = OpRecreateNetwork, "config hash changed"
			networks = append(networks, n.Name)
		}
		plan.Networks = append(plan.Networks, op)
	}
	diverged := DivergedVolumes(p, obs)
	for _, key := range sortedKeys(p.Volumes) {
		v := p.Volumes[key]
		if bool(v.External) {
			continue
		}
		op := Op{Kind: OpCreateVolume, Resource: "volume:" + key, Name: v.Name, Key: key, Cause: "not found"}
		if _, ok := obs.Volumes[v.Name]; ok {
			if !slices.Contains(diverged, v.Name) || !slices.Contains(r.opts.RecreateVolumes, v.Name) {
				continue
			}
			op.Kind, op.Cause = OpRecreateVolume, "config hash changed, recreation confirmed"
			volumes = append(volumes, v.Name)
		}
		plan.Volumes = append(plan.Volumes, op)
	}
	if len(networks)+len(volumes) == 0 {
		return
	}
	// The containers in the way: those of the project's services (not
	// one-offs, not orphans: docker compose leaves those, and the removal
	// then fails naming them).
	var detach []Op
	for _, c := range obs.Containers {
		if _, ok := p.Services[c.Service]; !ok || c.OneOff {
			continue
		}
		res := "service:" + c.Service + ":" + strconv.Itoa(c.Number)
		op := Op{Resource: res, Name: c.Name, Service: c.Service, Number: c.Number, Container: ptr(c)}
		if v := firstOf(c.Volumes, volumes); v != "" {
			op.Kind, op.Cause = OpRemoveContainer, "volume "+v+" is recreated"
			r.removed[c.ID] = "volume " + v + " was recreated"
		} else if n := firstOf(c.Networks, networks); n != "" && c.Running() {
			op.Kind, op.Cause = OpStopContainer, "network "+n+" is recreated"
			r.stopped[c.ID] = "restart after network " + n + " was recreated"
		} else {
			continue
		}
		detach = append(detach, op)
	}
	sort.Slice(detach, func(i, j int) bool { return detach[i].Name < detach[j].Name })
	plan.Detach = detach
}

// firstOf returns the first of names (in sorted order) that is in set, ""
// if none is.
func firstOf(names, set []string) string {
	for _, n := range slices.Sorted(slices.Values(names)) {
		if slices.Contains(set, n) {
			return n
		}
	}
	return ""
}
