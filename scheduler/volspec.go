package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/volumes"
)

// projectVolumeName is the real name of the project's volume key: its
// `name:`, else "<project>_<key>" (the key itself for an external volume),
// as compose-go's normalisation sets it.
func projectVolumeName(p *types.Project, key string, v types.VolumeConfig) string {
	switch {
	case v.Name != "":
		return v.Name
	case bool(v.External):
		return key
	default:
		return p.Name + "_" + key
	}
}

// projectVolumeLabels are the labels docker compose gives the project's
// volume key: the user's labels, then com.docker.compose.project, .volume
// and .version.
func projectVolumeLabels(p *types.Project, key string, v types.VolumeConfig) map[string]string {
	labels := make(map[string]string, len(v.Labels)+3)
	maps.Copy(labels, v.Labels)
	labels[compose.LabelProject] = p.Name
	labels[compose.LabelVolume] = key
	labels[compose.LabelVersion] = compose.ComposeVersion
	return labels
}

// volumeSpec is the volumes.Spec of a project volume with labels (see
// projectVolumeLabels), plus docker compose's config-hash label.
func volumeSpec(v types.VolumeConfig, labels map[string]string) volumes.Spec {
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	if h, err := volumeHash(v); err == nil {
		l[compose.LabelConfigHash] = h
	}
	return volumes.Spec{
		Name:       v.Name,
		Driver:     v.Driver,
		DriverOpts: maps.Clone(map[string]string(v.DriverOpts)),
		Labels:     l,
	}
}

// volumeHash is docker compose's VolumeHash: the sha256 of the volume's
// JSON with the driver defaulted to "local".
func volumeHash(v types.VolumeConfig) (string, error) {
	if v.Driver == "" {
		v.Driver = volumes.DriverLocal
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// checkExternalVolumes returns an error naming the first external volume
// of p that does not exist (with how to create it). Up calls it before it
// creates anything.
func checkExternalVolumes(ctx context.Context, vols volumeManager, p *types.Project) error {
	for _, key := range sortedKeys(p.Volumes) {
		v := p.Volumes[key]
		if !bool(v.External) {
			continue
		}
		name := projectVolumeName(p, key, v)
		if _, err := vols.Get(ctx, name); err != nil {
			if errdefs.IsNotFound(err) {
				return externalVolumeMissing(name, err)
			}
			return err
		}
	}
	return nil
}

// volumeLister is what downVolumes needs of the volume manager.
type volumeLister interface {
	List(ctx context.Context, labels map[string]string) ([]*volumes.Volume, error)
}

// downVolumes returns the volumes `down -v` removes, sorted: every volume
// labelled with the project (named ones and the anonymous volumes berth
// made for its containers) and, when p is known, its declared volumes that
// exist without the label (docker compose removes those by name too). A
// volume p declares external is never returned.
func downVolumes(ctx context.Context, vols volumeLister, project string, p *types.Project) ([]string, error) {
	labelled, err := vols.List(ctx, map[string]string{compose.LabelProject: project})
	if err != nil {
		return nil, err
	}
	external := map[string]bool{}
	declared := map[string]bool{}
	if p != nil {
		for key, v := range p.Volumes {
			name := projectVolumeName(p, key, v)
			if bool(v.External) {
				external[name] = true
			} else {
				declared[name] = true
			}
		}
	}
	var out []string
	for _, v := range labelled {
		if !external[v.Name] {
			out = append(out, v.Name)
		}
	}
	if len(declared) > 0 {
		all, err := vols.List(ctx, nil)
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			if declared[v.Name] && !slices.Contains(out, v.Name) {
				out = append(out, v.Name)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// releasedAnonymousVolumes returns the anonymous volumes mounted in prev
// and not in next: after a recreate with --renew-anon-volumes (or a
// service that dropped an anonymous entry) they belong to no container
// and are removed, as docker compose removes the replaced container with
// its anonymous volumes. next nil: all of prev's (rm -v).
func releasedAnonymousVolumes(ctx context.Context, vols volumeManager, prev, next []engine.Mount) ([]string, error) {
	kept := map[string]bool{}
	for _, m := range next {
		kept[m.Volume] = true
	}
	var out []string
	for _, m := range prev {
		if m.Volume == "" || kept[m.Volume] || slices.Contains(out, m.Volume) {
			continue
		}
		v, err := vols.Get(ctx, m.Volume)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if v.Anonymous() {
			out = append(out, m.Volume)
		}
	}
	return out, nil
}
