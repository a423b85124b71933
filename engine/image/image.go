// Package image is berth's OCI image store: it pulls images from registries
// (go-containerregistry, Docker's reference and auth semantics), loads and
// saves tarballs, imports root filesystems, and keeps what it fetched in a
// content-addressed store whose layers are unpacked once into snapshots
// (engine/rootfs).
//
// On disk, under Options.Root:
//
//	blobs/sha256/<hex>   manifests, configs, compressed layers: each written
//	                     to ingest/ first, its digest checked, then renamed
//	ingest/<hex>         a blob being downloaded; kept across a crash so the
//	                     next pull resumes it (HTTP Range)
//	locks/<hex>          flock per blob: one download of a blob at a time,
//	                     also across processes
//	index.json           the images (config, layers, chain) and the tags that
//	                     point at them, rewritten atomically under index.lock
//
// Invariants: a blob is visible only once verified; an image is visible
// (in index.json) only when its blobs are stored and every layer is
// unpacked; readers never take a lock. Garbage collection (Remove, Prune)
// deletes blobs and snapshots that no image references, and never an image
// that Options.InUse reports in use by a container.
//
// Push uploads stored images. The package does not build images.
package image

import (
	"encoding/json"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"slices"
	"strings"
	"time"
)

// Image is one image in the store.
type Image struct {
	// ID is "sha256:<config digest>", as docker's image ID.
	ID string `json:"id"`
	// RepoTags are the tags pointing at the image, normalized
	// ("docker.io/library/postgres:16").
	RepoTags []string `json:"repo_tags,omitempty"`
	// RepoDigests are "name@sha256:…" of the manifest (or index) the image
	// was pulled by.
	RepoDigests []string `json:"repo_digests,omitempty"`
	// Created is the image's creation time from its config.
	Created time.Time `json:"created"`
	// Size is the unpacked size of its layers, in bytes.
	Size int64 `json:"size"`
	// Platform is "os/arch[/variant]".
	Platform string `json:"platform"`
	// Config is what the engine needs of the image config.
	Config Config `json:"config"`
	// ChainIDs are the layers' snapshot keys, bottom→top.
	ChainIDs []string `json:"chain_ids"`
	// DiffIDs are the digests of the uncompressed layers, bottom→top.
	DiffIDs []string `json:"diff_ids"`
	// Layers are the layer blobs, bottom→top.
	Layers []Layer `json:"layers"`
	// Manifest is the digest of the image manifest in the store.
	Manifest string `json:"manifest"`
	// ManifestMediaType is the manifest's media type.
	ManifestMediaType string `json:"manifest_media_type,omitempty"`
	// LastPull is when a pull last checked or fetched the image (the
	// daily/weekly/every_ pull policies read it). Zero for loaded images.
	LastPull time.Time `json:"last_pull,omitzero"`
	// Author and Comment come from the config (import --message).
	Author  string `json:"author,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// Layer is one layer blob of an image.
type Layer struct {
	// Digest is the blob's (compressed) digest.
	Digest string `json:"digest"`
	// MediaType is the blob's media type.
	MediaType string `json:"media_type"`
	// Size is the blob's size in bytes.
	Size int64 `json:"size"`
	// UnpackedSize is the size of its files' contents.
	UnpackedSize int64 `json:"unpacked_size"`
}

// Config is the part of an image config the engine uses.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// Env is KEY=VALUE.
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	// User is "user[:group]".
	User string `json:"user,omitempty"`
	// ExposedPorts are "80/tcp", sorted.
	ExposedPorts []string `json:"exposed_ports,omitempty"`
	// Volumes are container paths, sorted.
	Volumes     []string          `json:"volumes,omitempty"`
	Healthcheck *Healthcheck      `json:"healthcheck,omitempty"`
	StopSignal  string            `json:"stop_signal,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Healthcheck is the image's HEALTHCHECK. Test is as docker stores it:
// ["NONE"], ["CMD", args…] or ["CMD-SHELL", command].
type Healthcheck struct {
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	StartPeriod   time.Duration `json:"start_period,omitempty"`
	StartInterval time.Duration `json:"start_interval,omitempty"`
	Retries       int           `json:"retries,omitempty"`
}

// ShortID is the 12 hex digits docker shows for an image ID.
func (img *Image) ShortID() string { return ShortID(img.ID) }

// ShortID returns the first 12 hex digits of a digest.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// configFile is the image config JSON (OCI and Docker), the fields berth
// reads. Durations are nanoseconds as Docker writes them.
type configFile struct {
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Variant      string    `json:"variant,omitempty"`
	Created      time.Time `json:"created"`
	Author       string    `json:"author,omitempty"`
	Comment      string    `json:"comment,omitempty"`
	Config       struct {
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Volumes      map[string]struct{} `json:"Volumes"`
		WorkingDir   string              `json:"WorkingDir"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
		Healthcheck  *struct {
			Test          []string      `json:"Test"`
			Interval      time.Duration `json:"Interval"`
			Timeout       time.Duration `json:"Timeout"`
			StartPeriod   time.Duration `json:"StartPeriod"`
			StartInterval time.Duration `json:"StartInterval"`
			Retries       int           `json:"Retries"`
		} `json:"Healthcheck"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// parseConfig decodes an image config blob.
func parseConfig(raw []byte) (*configFile, error) {
	var cf configFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if cf.RootFS.Type != "" && cf.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config: rootfs type %q is not \"layers\"", cf.RootFS.Type)
	}
	for _, d := range cf.RootFS.DiffIDs {
		if !names.IsDigest(d) {
			return nil, fmt.Errorf("image config: diff id %q is not a sha256 digest", d)
		}
	}
	return &cf, nil
}

// engineConfig is what the engine needs of a config file.
func (cf *configFile) engineConfig() Config {
	c := cf.Config
	out := Config{
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		WorkingDir: c.WorkingDir,
		User:       c.User,
		StopSignal: c.StopSignal,
		Labels:     c.Labels,
	}
	for p := range c.ExposedPorts {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	slices.Sort(out.ExposedPorts)
	for v := range c.Volumes {
		out.Volumes = append(out.Volumes, v)
	}
	slices.Sort(out.Volumes)
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	return out
}

// platform is the config's "os/arch[/variant]".
func (cf *configFile) platform() string {
	p := cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		p += "/" + cf.Variant
	}
	return p
}
