package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// saveManifest is one entry of docker save's manifest.json.
type saveManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// ociDescriptor is an OCI content descriptor.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant,omitempty"`
	} `json:"platform,omitempty"`
}

// ociIndex is an OCI image index (index.json of a layout).
type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType,omitempty"`
	Manifests     []ociDescriptor `json:"manifests"`
}

// ociManifest is an OCI (or Docker schema 2) image manifest.
type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType,omitempty"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

// Annotations naming an image in an OCI layout.
const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// Save writes the images refs name as a `docker save` tarball, the layout
// docker 25 writes and every docker load reads: an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) plus manifest.json and
// repositories. Layers are written as stored (docker load accepts
// compressed ones). A reference that is a tag is saved with that tag; an
// ID with no tag.
func (s *Store) Save(ctx context.Context, refs []string, w io.Writer) error {
	if len(refs) == 0 {
		return fmt.Errorf("save: name at least one image: %w", errdefs.ErrInvalidArgument)
	}
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	type item struct {
		img  *Image
		tags []string
	}
	var items []*item
	byID := map[string]*item{}
	for _, ref := range refs {
		img, err := ix.resolve(ref)
		if err != nil {
			return err
		}
		it, ok := byID[img.ID]
		if !ok {
			it = &item{img: img}
			byID[img.ID] = it
			items = append(items, it)
		}
		if named, err := parseRef(ref); err == nil && !looksLikeID(ref) {
			if _, tagged := named.(reference.Tagged); tagged && !slices.Contains(it.tags, named.String()) {
				it.tags = append(it.tags, named.String())
			}
		}
	}
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	now := time.Unix(0, 0)
	writeFile := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	writeBlobFile := func(digest string) error {
		if written[digest] {
			return nil
		}
		written[digest] = true
		f, err := s.openBlob(digest)
		if err != nil {
			return fmt.Errorf("save: %w (the store is damaged: pull the image again)", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:"), Mode: 0o444, Size: fi.Size(), ModTime: now, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = copyCtx(ctx, tw, f)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Mode: 0o755, ModTime: now, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Mode: 0o755, ModTime: now, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	var manifests []saveManifest
	idx := ociIndex{SchemaVersion: 2, MediaType: mediaOCIIndex}
	repos := map[string]map[string]string{}
	for _, it := range items {
		img := it.img
		for _, d := range append([]string{img.ID, img.Manifest}, layerDigests(img)...) {
			if err := writeBlobFile(d); err != nil {
				return err
			}
		}
		sm := saveManifest{Config: "blobs/sha256/" + strings.TrimPrefix(img.ID, "sha256:"), RepoTags: []string{}}
		for _, l := range img.Layers {
			sm.Layers = append(sm.Layers, "blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:"))
		}
		mt := img.ManifestMediaType
		if mt == "" {
			mt = mediaOCIManifest
		}
		desc := ociDescriptor{MediaType: mt, Digest: img.Manifest, Size: max(s.blobSize(img.Manifest), 0)}
		if len(it.tags) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, t := range it.tags {
			sm.RepoTags = append(sm.RepoTags, FamiliarString(t))
			d := desc
			_, tag := splitTag(t)
			d.Annotations = map[string]string{annotationImageName: t, annotationRefName: tag}
			idx.Manifests = append(idx.Manifests, d)
			repo := FamiliarName(t)
			if repos[repo] == nil {
				repos[repo] = map[string]string{}
			}
			if len(img.ChainIDs) > 0 {
				repos[repo][tag] = strings.TrimPrefix(img.ChainIDs[len(img.ChainIDs)-1], "sha256:")
			}
		}
		manifests = append(manifests, sm)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"index.json", idx}, {"manifest.json", manifests}, {"repositories", repos}} {
		data, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := writeFile(f.name, data); err != nil {
			return err
		}
	}
	if err := writeFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}

func layerDigests(img *Image) []string {
	out := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		out[i] = l.Digest
	}
	return out
}
