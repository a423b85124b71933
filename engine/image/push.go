package image

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushOptions tune a push.
type PushOptions struct {
	// Progress receives the bytes uploaded so far (ID "", Status
	// "Pushing"); nil means none.
	Progress func(Progress)
}

// Push uploads the image ref names (a tag) to its registry, as docker
// push: blobs the registry has already are not sent again. The store's
// blob directory is an OCI layout, which go-containerregistry reads.
func (s *Store) Push(ctx context.Context, ref string, opts PushOptions) error {
	named, err := parseRef(ref)
	if err != nil {
		return err
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("push %s: name a tag, not a digest: %w", ref, errdefs.ErrInvalidArgument)
	}
	img, err := s.Get(ctx, named.String())
	if err != nil {
		return err
	}
	local, err := partial.CompressedToImage(&storedImage{s: s, img: img})
	if err != nil {
		return fmt.Errorf("push %s: read the image from the store: %w (pull or load it again)", FamiliarString(named.String()), err)
	}
	var nopts []name.Option
	if s.reg.isInsecure(registryHost(named)) {
		nopts = append(nopts, name.Insecure)
	}
	dst, err := name.NewTag(registryHost(named)+"/"+repoPath(named)+":"+tagged.Tag(), nopts...)
	if err != nil {
		return fmt.Errorf("push %s: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	ep := endpoint{registry: dst.Registry, repo: dst.Repository}
	if err := s.connect(ctx, &ep, true); err != nil {
		return fmt.Errorf("push %s: %w", FamiliarString(named.String()), err)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(ep.rt)}
	var updates chan v1.Update
	done := make(chan struct{})
	if opts.Progress != nil {
		updates = make(chan v1.Update, 16)
		ropts = append(ropts, remote.WithProgress(updates))
		go func() {
			defer close(done)
			for u := range updates {
				opts.Progress(Progress{Ref: named.String(), Status: "Pushing", Current: u.Complete, Total: u.Total})
			}
		}()
	} else {
		close(done)
	}
	err = remote.Write(dst, local, ropts...)
	select { // remote.Write closes updates once it got going
	case <-done:
	case <-time.After(time.Second):
	}
	if err != nil {
		return fmt.Errorf("push %s: %w", FamiliarString(named.String()), registryError(dst.RegistryStr(), err))
	}
	return s.update(ctx, func(ix *index) error {
		if cur, ok := ix.Images[img.ID]; ok {
			d := named.Name() + "@" + img.Manifest
			if !slices.Contains(cur.RepoDigests, d) {
				cur.RepoDigests = append(cur.RepoDigests, d)
			}
		}
		return nil
	})
}

// storedImage is an image of the store as go-containerregistry's
// partial.CompressedImageCore: its manifest, config and layer blobs.
type storedImage struct {
	s   *Store
	img *Image
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return i.s.readBlob(i.img.ID) }
func (i *storedImage) RawManifest() ([]byte, error)   { return i.s.readBlob(i.img.Manifest) }
func (i *storedImage) MediaType() (types.MediaType, error) {
	if i.img.ManifestMediaType == "" {
		return types.OCIManifestSchema1, nil
	}
	return types.MediaType(i.img.ManifestMediaType), nil
}

// LayerByDigest returns a layer blob (or the config) by digest.
func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Layers {
		if l.Digest == h.String() {
			return &storedLayer{s: i.s, l: l}, nil
		}
	}
	if h.String() == i.img.ID {
		data, err := i.s.readBlob(i.img.ID)
		if err != nil {
			return nil, err
		}
		return &storedLayer{s: i.s, l: Layer{Digest: i.img.ID, Size: int64(len(data)), MediaType: mediaOCIConfig}}, nil
	}
	return nil, fmt.Errorf("blob %s is not part of image %s: %w", h, i.img.ShortID(), errdefs.ErrNotFound)
}

// storedLayer is a stored blob as a partial.CompressedLayer.
type storedLayer struct {
	s *Store
	l Layer
}

func (l *storedLayer) Digest() (v1.Hash, error)           { return v1.NewHash(l.l.Digest) }
func (l *storedLayer) Compressed() (io.ReadCloser, error) { return l.s.openBlob(l.l.Digest) }
func (l *storedLayer) Size() (int64, error)               { return l.l.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.l.MediaType), nil
}
