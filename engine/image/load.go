package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/berthdev/berth/engine/rootfs"
)

// archiveFiles are the files of a loaded tarball: small ones in memory,
// large ones already stored as blobs; symlinks resolved on lookup.
type archiveFiles struct {
	s     *Store
	small map[string][]byte
	big   map[string]string // name → blob digest
	links map[string]string // name → target name
}

// smallFile is the largest file kept in memory while loading.
const smallFile = 1 << 20

func (a *archiveFiles) resolve(name string) string {
	for range 16 {
		t, ok := a.links[name]
		if !ok {
			break
		}
		name = t
	}
	return name
}

// read returns a small file's bytes.
func (a *archiveFiles) read(name string) ([]byte, bool) {
	data, ok := a.small[a.resolve(name)]
	return data, ok
}

// blob stores the file as a blob (if not yet) and returns its digest and
// size.
func (a *archiveFiles) blob(name string) (string, int64, error) {
	name = a.resolve(name)
	if d, ok := a.big[name]; ok {
		return d, a.s.blobSize(d), nil
	}
	data, ok := a.small[name]
	if !ok {
		return "", 0, fmt.Errorf("the archive has no file %q: %w", name, errdefs.ErrInvalidArgument)
	}
	d := digestBytes(data)
	if err := a.s.writeBlob(d, data); err != nil {
		return "", 0, err
	}
	return d, int64(len(data)), nil
}

// byDigest returns an OCI layout blob's digest after checking that its
// content has the digest its path claims.
func (a *archiveFiles) byDigest(digest string) (string, int64, error) {
	hexd, err := blobHex(digest)
	if err != nil {
		return "", 0, err
	}
	d, size, err := a.blob("blobs/sha256/" + hexd)
	if err != nil {
		return "", 0, err
	}
	if d != digest {
		return "", 0, fmt.Errorf("blob %s has digest %s: the archive is corrupt: %w", digest, d, errdefs.ErrDataLoss)
	}
	return d, size, nil
}

// Load reads a `docker save` tarball (any docker version) or an OCI image
// layout archive (skopeo, buildah, docker ≥25), possibly gzip- or
// zstd-compressed, stores and unpacks its images and returns docker's
// lines ("Loaded image: postgres:16", or "Loaded image ID: sha256:…" for
// an untagged image).
func (s *Store) Load(ctx context.Context, r io.Reader) ([]string, error) {
	lines, err := s.load(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("load: the archive holds no image: %w", errdefs.ErrInvalidArgument)
	}
	// Files of the archive that are no image's blobs.
	if _, err := s.gc(ctx, false); err != nil {
		s.log.Warn("load: garbage collection", "err", err)
	}
	return lines, nil
}

func (s *Store) load(ctx context.Context, r io.Reader) ([]string, error) {
	release, err := s.holdContent(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	zr, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer zr.Close()
	a := &archiveFiles{s: s, small: map[string][]byte{}, big: map[string]string{}, links: map[string]string{}}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load: not a tar archive of images: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			a.links[name] = strings.TrimPrefix(path.Clean("/"+path.Join(path.Dir(name), hdr.Linkname)), "/")
			continue
		case tar.TypeLink:
			a.links[name] = strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			continue
		case tar.TypeReg:
		default:
			continue
		}
		if hdr.Size <= smallFile {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("load: %s: %w", name, err)
			}
			a.small[name] = data
			continue
		}
		w, err := s.newIngest()
		if err != nil {
			return nil, err
		}
		if _, err := copyCtx(ctx, w, tr); err != nil {
			w.Abort()
			return nil, fmt.Errorf("load: %s: %w", name, err)
		}
		d, _, err := w.Commit()
		if err != nil {
			return nil, err
		}
		a.big[name] = d
	}
	var lines []string
	switch {
	case a.has("manifest.json"):
		lines, err = s.loadDocker(ctx, a)
	case a.has("index.json"):
		lines, err = s.loadOCI(ctx, a)
	default:
		err = fmt.Errorf("load: the archive has neither manifest.json (docker save) nor index.json (OCI layout): %w", errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return nil, err
	}
	return lines, nil
}

func (a *archiveFiles) has(name string) bool {
	name = a.resolve(name)
	_, ok := a.small[name]
	_, big := a.big[name]
	return ok || big
}

// loadDocker loads the images of a docker save manifest.json.
func (s *Store) loadDocker(ctx context.Context, a *archiveFiles) ([]string, error) {
	raw, ok := a.read("manifest.json")
	if !ok {
		return nil, fmt.Errorf("load: manifest.json is too large: %w", errdefs.ErrInvalidArgument)
	}
	var entries []saveManifest
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("load: manifest.json: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	var lines []string
	for _, e := range entries {
		configRaw, ok := a.read(e.Config)
		if !ok {
			return nil, fmt.Errorf("load: config %s missing from the archive: %w", e.Config, errdefs.ErrInvalidArgument)
		}
		var layers []Layer
		for _, l := range e.Layers {
			d, size, err := a.blob(l)
			if err != nil {
				return nil, fmt.Errorf("load: layer %s: %w", l, err)
			}
			layers = append(layers, Layer{Digest: d, Size: size})
		}
		var tags []string
		for _, t := range e.RepoTags {
			n, err := NormalizeRef(t)
			if err != nil {
				return nil, fmt.Errorf("load: tag %q: %w", t, err)
			}
			tags = append(tags, n)
		}
		out, err := s.addImage(ctx, configRaw, nil, "", layers, tags, nil)
		if err != nil {
			return nil, err
		}
		lines = append(lines, out...)
	}
	return lines, nil
}

// loadOCI loads the images of an OCI layout's index.json (the host's
// platform from nested indexes).
func (s *Store) loadOCI(ctx context.Context, a *archiveFiles) ([]string, error) {
	raw, _ := a.read("index.json")
	var idx ociIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("load: index.json: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	want, _ := parsePlatform(s.platform)
	var lines []string
	for _, desc := range idx.Manifests {
		name := desc.Annotations[annotationImageName]
		if name == "" {
			if rn := desc.Annotations[annotationRefName]; strings.ContainsAny(rn, ":/") {
				name = rn
			}
		}
		mdesc := desc
		if isIndex(desc.MediaType) {
			d, _, err := a.byDigest(desc.Digest)
			if err != nil {
				return nil, err
			}
			data, _ := s.readBlob(d)
			p := &puller{want: want}
			child, err := p.selectPlatform(data)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			mdesc = ociDescriptor{Digest: child}
		}
		md, _, err := a.byDigest(mdesc.Digest)
		if err != nil {
			return nil, fmt.Errorf("load: manifest: %w", err)
		}
		mraw, err := s.readBlob(md)
		if err != nil {
			return nil, err
		}
		var m ociManifest
		if err := json.Unmarshal(mraw, &m); err != nil {
			return nil, fmt.Errorf("load: manifest %s: %v: %w", md, err, errdefs.ErrInvalidArgument)
		}
		cd, _, err := a.byDigest(m.Config.Digest)
		if err != nil {
			return nil, fmt.Errorf("load: config: %w", err)
		}
		configRaw, err := s.readBlob(cd)
		if err != nil {
			return nil, err
		}
		var layers []Layer
		for _, l := range m.Layers {
			if err := checkLayerType(l.MediaType); err != nil {
				return nil, fmt.Errorf("load: layer %s: %w", ShortID(l.Digest), err)
			}
			d, size, err := a.byDigest(l.Digest)
			if err != nil {
				return nil, fmt.Errorf("load: layer: %w", err)
			}
			layers = append(layers, Layer{Digest: d, Size: size, MediaType: l.MediaType})
		}
		var tags, digests []string
		if name != "" {
			n, err := parseRef(name)
			if err != nil {
				return nil, fmt.Errorf("load: image name %q: %w", name, err)
			}
			if _, ok := n.(reference.Tagged); ok {
				tags = append(tags, n.String())
			}
			digests = append(digests, n.Name()+"@"+desc.Digest)
		}
		mt := m.MediaType
		if mt == "" {
			mt = mediaOCIManifest
		}
		out, err := s.addImage(ctx, configRaw, mraw, mt, layers, tags, digests)
		if err != nil {
			return nil, err
		}
		lines = append(lines, out...)
	}
	return lines, nil
}

// addImage unpacks the layers of an image whose blobs are stored, stores
// its config and manifest (synthesizing an OCI manifest when manifestRaw is
// nil) and records it under tags. It returns docker load's lines.
func (s *Store) addImage(ctx context.Context, configRaw, manifestRaw []byte, manifestType string, layers []Layer,
	tags, repoDigests []string) ([]string, error) {
	cf, err := parseConfig(configRaw)
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("the image has %d layers but its config lists %d: %w", len(layers), len(cf.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	configDigest := digestBytes(configRaw)
	if err := s.writeBlob(configDigest, configRaw); err != nil {
		return nil, err
	}
	name := ShortID(configDigest)
	if len(tags) > 0 {
		name = FamiliarString(tags[0])
	}
	img := &Image{ID: configDigest, Created: cf.Created, Platform: cf.platform(), Config: cf.engineConfig(),
		DiffIDs: cf.RootFS.DiffIDs, Author: cf.Author, Comment: cf.Comment, RepoDigests: repoDigests}
	parent := ""
	for i, l := range layers {
		chain := rootfs.ChainID(parent, img.DiffIDs[i])
		img.ChainIDs = append(img.ChainIDs, chain)
		info, err := s.snaps.Stat(chain)
		if err != nil {
			info, err = s.applyBlob(ctx, l.Digest, rootfs.ApplyOptions{ChainID: chain, Parent: parent, DiffID: img.DiffIDs[i], Image: name, Layer: l.Digest})
			if err != nil {
				return nil, err
			}
		}
		if l.MediaType == "" {
			l.MediaType = s.sniffLayerType(l.Digest)
		}
		l.UnpackedSize = info.Size
		img.Size += info.Size
		img.Layers = append(img.Layers, l)
		parent = chain
	}
	if manifestRaw == nil {
		m := ociManifest{SchemaVersion: 2, MediaType: mediaOCIManifest,
			Config: ociDescriptor{MediaType: mediaOCIConfig, Digest: configDigest, Size: int64(len(configRaw))}}
		for _, l := range img.Layers {
			m.Layers = append(m.Layers, ociDescriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		}
		if manifestRaw, err = json.Marshal(m); err != nil {
			return nil, err
		}
		manifestType = mediaOCIManifest
	}
	img.Manifest, img.ManifestMediaType = digestBytes(manifestRaw), manifestType
	if err := s.writeBlob(img.Manifest, manifestRaw); err != nil {
		return nil, err
	}
	if err := s.record(ctx, img, tags...); err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return []string{"Loaded image ID: " + img.ID}, nil
	}
	lines := make([]string, len(tags))
	for i, t := range tags {
		lines[i] = "Loaded image: " + FamiliarString(t)
	}
	return lines, nil
}

// applyBlob unpacks a stored layer blob into a snapshot.
func (s *Store) applyBlob(ctx context.Context, digest string, opts rootfs.ApplyOptions) (rootfs.Info, error) {
	f, err := s.openBlob(digest)
	if err != nil {
		return rootfs.Info{}, err
	}
	defer f.Close()
	zr, err := decompress(f)
	if err != nil {
		return rootfs.Info{}, fmt.Errorf("image %s: layer %s: %w", opts.Image, ShortID(digest), err)
	}
	defer zr.Close()
	return s.snaps.Apply(ctx, zr, opts)
}

// sniffLayerType names a stored layer blob's OCI media type from its
// compression.
func (s *Store) sniffLayerType(digest string) string {
	f, err := s.openBlob(digest)
	if err != nil {
		return "application/vnd.oci.image.layer.v1.tar"
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return "application/vnd.oci.image.layer.v1.tar+gzip"
	case n == 4 && magic == [4]byte{0x28, 0xb5, 0x2f, 0xfd}:
		return "application/vnd.oci.image.layer.v1.tar+zstd"
	}
	return "application/vnd.oci.image.layer.v1.tar"
}
