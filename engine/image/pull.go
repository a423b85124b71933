package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine/rootfs"
)

// PullOptions tune a pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]" (compose's `platform:`); "" means
	// the store's default (the host's).
	Platform string
	// Progress receives progress reports; nil means none. It is called
	// from several goroutines, never concurrently for one layer.
	Progress func(Progress)
}

// Progress is one progress report of a pull, in docker's vocabulary.
type Progress struct {
	// Ref is the normalized reference being pulled.
	Ref string
	// ID is the layer's short digest, "" for a message about the image.
	ID string
	// Status is docker's word: "Pulling fs layer", "Waiting",
	// "Downloading", "Download complete", "Extracting", "Pull complete",
	// "Already exists" (the checksum is verified while downloading, so
	// "Verifying Checksum" is not reported); for the image "Pulling from
	// <repo>", "Digest: …", "Status: …".
	Status string
	// Current and Total are bytes (Downloading: of the blob received;
	// Extracting: of the blob unpacked). Zero when not a transfer.
	Current, Total int64
}

// Layer progress statuses.
const (
	StatusPullingLayer  = "Pulling fs layer"
	StatusWaiting       = "Waiting"
	StatusDownloading   = "Downloading"
	StatusVerifying     = "Verifying Checksum"
	StatusDownloaded    = "Download complete"
	StatusExtracting    = "Extracting"
	StatusPullComplete  = "Pull complete"
	StatusAlreadyExists = "Already exists"
)

// Pull fetches ref (Docker semantics: "postgres" is
// docker.io/library/postgres:latest) for the platform, unpacks every layer
// into snapshots and records the image. An image already present costs one
// HEAD request (none when pulled by a digest that is present). Errors name
// the reference and carry the registry's answer.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	named, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	platStr := opts.Platform
	if platStr == "" {
		platStr = s.platform
	}
	want, err := parsePlatform(platStr)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", FamiliarString(named.String()), err)
	}
	release, err := s.holdContent(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	p := &puller{s: s, named: named, want: want, explicitPlatform: opts.Platform != "", progress: opts.Progress}
	img, err := p.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", FamiliarString(named.String()), err)
	}
	return img, nil
}

// puller is the state of one Pull.
type puller struct {
	s                *Store
	named            reference.Named
	want             v1.Platform
	explicitPlatform bool
	progress         func(Progress)
}

func (p *puller) report(id, status string, cur, total int64) {
	if p.progress != nil {
		p.progress(Progress{Ref: p.named.String(), ID: id, Status: status, Current: cur, Total: total})
	}
}

func (p *puller) run(ctx context.Context) (*Image, error) {
	now := time.Now().UTC()
	// By digest, and present: nothing to ask the registry.
	if d := refDigest(p.named); d != "" {
		if img := p.present(p.named.Name() + "@" + d); img != nil {
			return p.s.touch(ctx, img.ID, "", "", now)
		}
	}
	eps, err := p.s.endpoints(p.named)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := range eps {
		img, err := p.from(ctx, &eps[i], now)
		if err == nil {
			return img, nil
		}
		if !eps[i].mirror || ctx.Err() != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		p.s.log.Info("registry mirror failed, trying the next", "mirror", eps[i].registry.String(), "err", err)
		errs = append(errs, fmt.Errorf("mirror %s: %w", eps[i].registry, err))
	}
	return nil, errors.Join(errs...)
}

// present returns the complete local image pulled by repoDigest for the
// wanted platform.
func (p *puller) present(repoDigest string) *Image {
	ix, err := p.s.readIndex()
	if err != nil {
		return nil
	}
	for _, img := range sortedImages(ix) {
		if !slices.Contains(img.RepoDigests, repoDigest) {
			continue
		}
		if plat, err := parsePlatform(img.Platform); err != nil || !platformMatches(p.want, plat) {
			continue
		}
		if p.complete(img) {
			return img
		}
	}
	return nil
}

// complete reports whether every layer of img is unpacked.
func (p *puller) complete(img *Image) bool {
	for _, c := range img.ChainIDs {
		if !p.s.snaps.Has(c) {
			return false
		}
	}
	return true
}

// tag is the reference's tag to record ("" for a pull by digest).
func (p *puller) tag() string {
	if _, ok := p.named.(reference.Tagged); ok {
		return p.named.String()
	}
	return ""
}

// from pulls from one endpoint.
func (p *puller) from(ctx context.Context, ep *endpoint, now time.Time) (*Image, error) {
	if err := p.s.connect(ctx, ep, false); err != nil {
		return nil, err
	}
	ref := refDigest(p.named)
	if ref == "" {
		ref = p.named.(reference.Tagged).Tag()
		digest, _, err := ep.head(ctx, ref)
		switch {
		case err == nil && digest != "":
			if img := p.present(p.named.Name() + "@" + digest); img != nil {
				p.report("", "Pulling from "+repoPath(p.named), 0, 0)
				p.report("", "Digest: "+digest, 0, 0)
				p.report("", "Status: Image is up to date for "+FamiliarString(p.named.String()), 0, 0)
				return p.s.touch(ctx, img.ID, p.tag(), "", now)
			}
			ref = digest
		case err != nil && !errdefs.IsNotFound(err):
			return nil, err
		}
		// 404: the GET below fetches the registry's explanation.
	}
	p.report("", "Pulling from "+repoPath(p.named), 0, 0)
	raw, topDigest, mt, err := ep.manifest(ctx, ref, refDigest(p.named))
	if err != nil {
		return nil, notFoundHint(err)
	}
	manifestDigest := topDigest
	if isIndex(mt) {
		child, err := p.selectPlatform(raw)
		if err != nil {
			return nil, err
		}
		if raw, manifestDigest, mt, err = ep.manifest(ctx, child, child); err != nil {
			return nil, err
		}
	}
	switch {
	case mt == mediaDockerSchema1:
		return nil, fmt.Errorf("the image uses Docker's schema 1 manifest, which berth does not read; push it again with a current client: %w", errdefs.ErrNotImplemented)
	case !isManifest(mt):
		return nil, fmt.Errorf("%s is a %q, not a container image: %w", ref, mt, errdefs.ErrInvalidArgument)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %v: %w", manifestDigest, err, errdefs.ErrInvalidArgument)
	}
	cmt := string(m.Config.MediaType)
	if cmt != mediaOCIConfig && cmt != mediaDockerConfig {
		return nil, fmt.Errorf("manifest %s has a config of type %q: it is not a container image: %w", manifestDigest, cmt, errdefs.ErrInvalidArgument)
	}
	configRaw, err := p.smallBlob(ctx, ep, m.Config.Digest.String(), m.Config.Size)
	if err != nil {
		return nil, err
	}
	cf, err := parseConfig(configRaw)
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest %s lists %d layers, its config %d: the image is corrupt: %w",
			manifestDigest, len(m.Layers), len(cf.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	if plat, err := parsePlatform(cf.platform()); err == nil && !platformMatches(p.want, plat) {
		if p.explicitPlatform {
			return nil, kinded(errdefs.ErrNotFound, "the image is for %s, not the requested %s", cf.platform(), platformString(p.want))
		}
		p.s.log.Warn("image platform differs from the host's", "image", p.named.String(), "platform", cf.platform())
	}
	layers := make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		if err := checkLayerType(string(l.MediaType)); err != nil {
			return nil, fmt.Errorf("layer %s: %w", ShortID(l.Digest.String()), err)
		}
		layers[i] = Layer{Digest: l.Digest.String(), MediaType: string(l.MediaType), Size: l.Size}
	}
	img := &Image{
		ID: "sha256:" + strings.TrimPrefix(m.Config.Digest.String(), "sha256:"), Created: cf.Created,
		Platform: cf.platform(), Config: cf.engineConfig(), DiffIDs: cf.RootFS.DiffIDs, Layers: layers,
		Manifest: manifestDigest, ManifestMediaType: mt, LastPull: now, Author: cf.Author, Comment: cf.Comment,
		RepoDigests: []string{p.named.Name() + "@" + topDigest},
	}
	parent := ""
	for _, d := range img.DiffIDs {
		parent = rootfs.ChainID(parent, d)
		img.ChainIDs = append(img.ChainIDs, parent)
	}
	if err := p.layers(ctx, ep, img); err != nil {
		return nil, err
	}
	if err := p.s.writeBlob(m.Config.Digest.String(), configRaw); err != nil {
		return nil, err
	}
	if err := p.s.writeBlob(manifestDigest, raw); err != nil {
		return nil, err
	}
	var tags []string
	if t := p.tag(); t != "" {
		tags = append(tags, t)
	}
	if err := p.s.record(ctx, img, tags...); err != nil {
		return nil, err
	}
	p.report("", "Digest: "+topDigest, 0, 0)
	p.report("", "Status: Downloaded newer image for "+FamiliarString(p.named.String()), 0, 0)
	return p.s.Get(ctx, img.ID)
}

// notFoundHint adds what to do to a registry's "not found".
func notFoundHint(err error) error {
	if errdefs.IsNotFound(err) {
		return &kindError{msg: err.Error() + ": check the image name and tag, or log in if the repository is private",
			kind: errdefs.ErrNotFound, cause: err}
	}
	return err
}

// selectPlatform picks the wanted platform's manifest from an index.
func (p *puller) selectPlatform(raw []byte) (string, error) {
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(raw)))
	if err != nil {
		return "", fmt.Errorf("manifest list: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	var have []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		if m.Platform.OS == "unknown" { // attestations
			continue
		}
		have = append(have, platformString(*m.Platform))
		if platformMatches(p.want, *m.Platform) && isManifest(string(m.MediaType)) {
			return m.Digest.String(), nil
		}
	}
	return "", kinded(errdefs.ErrNotFound, "no image for platform %s in the manifest list (it has: %s); set `platform:` to one of them",
		platformString(p.want), strings.Join(have, ", "))
}

// smallBlob fetches and verifies a config blob (kept in memory).
func (p *puller) smallBlob(ctx context.Context, ep *endpoint, digest string, size int64) ([]byte, error) {
	if data, err := p.s.readBlob(digest); err == nil {
		return data, nil
	}
	if _, err := blobHex(digest); err != nil {
		return nil, err
	}
	if size > 16<<20 {
		return nil, fmt.Errorf("config %s is %d bytes, more than 16 MiB: %w", digest, size, errdefs.ErrInvalidArgument)
	}
	resp, err := ep.do(ctx, http.MethodGet, ep.url("blobs", digest), nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20+1))
	if err != nil {
		return nil, registryError(ep.registry.String(), err)
	}
	if got := digestBytes(data); got != digest {
		return nil, fmt.Errorf("config blob has digest %s, expected %s: the registry sent corrupt data: %w", got, digest, errdefs.ErrDataLoss)
	}
	return data, nil
}

// checkLayerType accepts the layer media types berth can unpack.
func checkLayerType(mt string) error {
	switch mt {
	case "application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar":
		return nil
	case "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return fmt.Errorf("foreign (Windows) layers are not supported: %w", errdefs.ErrNotImplemented)
	}
	return fmt.Errorf("media type %q is not an image layer: %w", mt, errdefs.ErrInvalidArgument)
}

// layers downloads the missing layer blobs (a few at a time, bottom
// first) and unpacks each missing layer in order while it downloads.
func (p *puller) layers(ctx context.Context, ep *endpoint, img *Image) error {
	g, gctx := errgroup.WithContext(ctx)
	downloads := make([]*download, len(img.Layers))
	var todo []int
	for i, l := range img.Layers {
		d := newDownload(l.Digest, l.Size, p.s.blobPath(l.Digest))
		downloads[i] = d
		id := ShortID(l.Digest)
		switch {
		case p.s.snaps.Has(img.ChainIDs[i]) && p.s.hasBlob(l.Digest):
			p.report(id, StatusAlreadyExists, 0, 0)
			d.finish(nil)
		case p.s.hasBlob(l.Digest):
			d.publish(p.s.blobPath(l.Digest), l.Size)
			d.finish(nil)
		default:
			p.report(id, StatusPullingLayer, 0, 0)
			todo = append(todo, i)
		}
	}
	for _, i := range todo {
		p.report(ShortID(img.Layers[i].Digest), StatusWaiting, 0, 0)
	}
	sem := make(chan struct{}, p.s.downloads)
	g.Go(func() error {
		for _, i := range todo {
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				for _, j := range todo {
					downloads[j].finish(gctx.Err())
				}
				return gctx.Err()
			}
			d, id, size := downloads[i], ShortID(img.Layers[i].Digest), img.Layers[i].Size
			g.Go(func() error {
				defer func() { <-sem }()
				err := p.s.fetch(gctx, ep, d, func(cur int64) { p.report(id, StatusDownloading, cur, size) })
				if err != nil {
					return err
				}
				p.report(id, StatusDownloaded, size, size)
				return nil
			})
		}
		return nil
	})
	g.Go(func() error {
		for i := range img.Layers {
			info, err := p.unpack(gctx, img, i, downloads[i])
			if err != nil {
				return err
			}
			img.Layers[i].UnpackedSize = info.Size
			img.Size += info.Size
		}
		return nil
	})
	return g.Wait()
}

// unpack unpacks layer i of img from its download (or finds it unpacked).
func (p *puller) unpack(ctx context.Context, img *Image, i int, d *download) (rootfs.Info, error) {
	chain := img.ChainIDs[i]
	if info, err := p.s.snaps.Stat(chain); err == nil {
		return info, nil
	}
	l := img.Layers[i]
	id := ShortID(l.Digest)
	rc, err := d.open(ctx)
	if err != nil {
		return rootfs.Info{}, err
	}
	defer rc.Close()
	// While the layer still downloads, its line says Downloading; then
	// Extracting with the unpacker's position.
	counted := &countingReader{r: rc, fn: func(n int64) {
		if d.isDone() {
			p.report(id, StatusExtracting, n, l.Size)
		}
	}}
	zr, err := decompress(counted)
	if err != nil {
		return rootfs.Info{}, fmt.Errorf("layer %s: %w", id, err)
	}
	defer zr.Close()
	parent := ""
	if i > 0 {
		parent = img.ChainIDs[i-1]
	}
	info, err := p.s.snaps.Apply(ctx, zr, rootfs.ApplyOptions{ChainID: chain, Parent: parent, DiffID: img.DiffIDs[i],
		Image: FamiliarString(p.named.String()), Layer: l.Digest})
	if err != nil {
		return rootfs.Info{}, diskHint(err, p.s.snaps.Root())
	}
	p.report(id, StatusPullComplete, 0, 0)
	return info, nil
}
