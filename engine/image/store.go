package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berthdev/berth/engine/rootfs"
	"github.com/berthdev/berth/engine/state"
)

// DefaultConfigFile is berth's configuration file (registry mirrors and
// insecure registries, in the keys of Docker's daemon.json).
const DefaultConfigFile = "/etc/berth/config.json"

// Options configure a Store.
type Options struct {
	// Root is the image store directory (state.Paths.Images()). Required.
	Root string
	// Snapshots is the unpacked layers directory (state.Paths.Snapshots()).
	// Required.
	Snapshots string
	// ConfigFile is berth's config file with "registry-mirrors" and
	// "insecure-registries"; "" means none. A missing file is no error.
	ConfigFile string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// InUse returns the IDs of the images containers use; GC never removes
	// them. nil means none (the engine sets it, also later via SetInUse).
	InUse func(ctx context.Context) (map[string]bool, error)
	// Keychain resolves registry credentials; nil means
	// authn.DefaultKeychain (~/.docker/config.json, DOCKER_CONFIG,
	// credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport for registries; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Platform is the default pull platform ("os/arch[/variant]"); "" means
	// the host's.
	Platform string
	// ForceCopy makes the snapshots copy-mode (see rootfs.Options).
	ForceCopy bool
	// MaxConcurrentDownloads bounds parallel layer downloads per pull; 0
	// means 3, as docker's default.
	MaxConcurrentDownloads int
}

// Store is the image store. It is safe for concurrent use, also by several
// processes sharing one Root.
type Store struct {
	root      string
	snaps     *rootfs.Snapshotter
	log       *slog.Logger
	reg       registryConfig
	keychain  authn.Keychain
	transport http.RoundTripper
	platform  string
	downloads int

	mu    sync.Mutex
	inUse func(ctx context.Context) (map[string]bool, error)
}

// New opens (creating if needed) the image store described by opts.
func New(opts Options) (*Store, error) {
	if opts.Root == "" || !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("image store root %q must be an absolute path: %w", opts.Root, errdefs.ErrInvalidArgument)
	}
	snaps, err := rootfs.New(rootfs.Options{Root: opts.Snapshots, Logger: opts.Logger, ForceCopy: opts.ForceCopy})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"blobs/sha256", "ingest", "locks"} {
		if err := os.MkdirAll(filepath.Join(opts.Root, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	reg, err := loadRegistryConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	platform := opts.Platform
	if platform == "" {
		platform = hostPlatform()
	}
	if _, err := parsePlatform(platform); err != nil {
		return nil, err
	}
	s := &Store{
		root: filepath.Clean(opts.Root), snaps: snaps, reg: reg, keychain: opts.Keychain,
		transport: opts.Transport, platform: platform, downloads: opts.MaxConcurrentDownloads,
		inUse: opts.InUse, log: opts.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.keychain == nil {
		s.keychain = authn.DefaultKeychain
	}
	if s.transport == nil {
		s.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if s.downloads <= 0 {
		s.downloads = 3
	}
	return s, nil
}

// Snapshotter returns the layer store the image store unpacks into.
func (s *Store) Snapshotter() *rootfs.Snapshotter { return s.snaps }

// SetInUse sets the hook that reports the images containers use (the
// engine calls it once it exists).
func (s *Store) SetInUse(fn func(ctx context.Context) (map[string]bool, error)) {
	s.mu.Lock()
	s.inUse = fn
	s.mu.Unlock()
}

func (s *Store) usedImages(ctx context.Context) (map[string]bool, error) {
	s.mu.Lock()
	fn := s.inUse
	s.mu.Unlock()
	if fn == nil {
		return map[string]bool{}, nil
	}
	used, err := fn(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the images containers use: %w", err)
	}
	return used, nil
}

// index is index.json: the images by ID and the tags pointing at them.
type index struct {
	Images map[string]*Image `json:"images"`
	// Tags maps a normalized tagged reference to an image ID.
	Tags map[string]string `json:"tags"`
}

func (s *Store) indexPath() string { return filepath.Join(s.root, "index.json") }

// readIndex reads index.json (no lock: it is replaced atomically) and fills
// each image's RepoTags.
func (s *Store) readIndex() (*index, error) {
	ix := &index{}
	if err := state.ReadJSON(s.indexPath(), ix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image store index: %w", err)
	}
	if ix.Images == nil {
		ix.Images = map[string]*Image{}
	}
	if ix.Tags == nil {
		ix.Tags = map[string]string{}
	}
	for _, img := range ix.Images {
		img.RepoTags = nil
	}
	for tag, id := range ix.Tags {
		if img, ok := ix.Images[id]; ok {
			img.RepoTags = append(img.RepoTags, tag)
		}
	}
	for _, img := range ix.Images {
		slices.Sort(img.RepoTags)
	}
	return ix, nil
}

// update runs fn on the index under index.lock and writes the result.
func (s *Store) update(ctx context.Context, fn func(ix *index) error) error {
	lock, err := state.Lock(ctx, filepath.Join(s.root, "index.lock"))
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	defer lock.Unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	for _, img := range ix.Images {
		img.RepoTags = nil // derived from Tags on read
	}
	return state.WriteJSON(s.indexPath(), ix, true)
}

// Get returns the image ref names: name[:tag], name@digest, a full or
// short image ID. It returns errdefs.ErrNotFound naming ref when absent.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	img, err := ix.resolve(ref)
	if err != nil {
		return nil, err
	}
	return img, ctx.Err()
}

// resolve finds ref in the index.
func (ix *index) resolve(ref string) (*Image, error) {
	if !strings.HasPrefix(ref, "sha256:") {
		if named, err := parseRef(ref); err == nil {
			if img := ix.byName(named); img != nil {
				return img, nil
			}
		}
	}
	if looksLikeID(ref) {
		prefix := "sha256:" + strings.TrimPrefix(ref, "sha256:")
		var found []*Image
		for id, img := range ix.Images {
			if strings.HasPrefix(id, prefix) {
				found = append(found, img)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			return nil, fmt.Errorf("image ID prefix %q matches %d images; give more digits: %w", ref, len(found), errdefs.ErrInvalidArgument)
		}
	}
	return nil, kinded(errdefs.ErrNotFound, "no such image: %s", ref)
}

// byName finds a normalized reference: a tag, or name@digest (the digest
// it was pulled by, or its manifest's).
func (ix *index) byName(named reference.Named) *Image {
	if d := refDigest(named); d != "" {
		want := named.Name() + "@" + d
		for _, img := range sortedImages(ix) {
			if slices.Contains(img.RepoDigests, want) {
				return img
			}
		}
		return nil
	}
	if id, ok := ix.Tags[named.String()]; ok {
		return ix.Images[id]
	}
	return nil
}

// sortedImages returns the images newest first (docker's listing order),
// then by ID, so lookups are deterministic.
func sortedImages(ix *index) []*Image {
	out := make([]*Image, 0, len(ix.Images))
	for _, img := range ix.Images {
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b *Image) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// List returns every image, newest first.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return sortedImages(ix), ctx.Err()
}

// Tag makes target (a reference; ":latest" when it has no tag) point at
// the image source names.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	named, err := parseRef(target)
	if err != nil {
		return err
	}
	if refDigest(named) != "" {
		return fmt.Errorf("tag %q: a tag cannot contain a digest: %w", target, errdefs.ErrInvalidArgument)
	}
	return s.update(ctx, func(ix *index) error {
		img, err := ix.resolve(source)
		if err != nil {
			return err
		}
		ix.Tags[named.String()] = img.ID
		return nil
	})
}

// record adds (or refreshes) img in the index and points tags at it. A tag
// that pointed at another image leaves that one dangling (docker's "<none>").
func (s *Store) record(ctx context.Context, img *Image, tags ...string) error {
	return s.update(ctx, func(ix *index) error {
		if old, ok := ix.Images[img.ID]; ok {
			for _, d := range old.RepoDigests {
				if !slices.Contains(img.RepoDigests, d) {
					img.RepoDigests = append(img.RepoDigests, d)
				}
			}
			slices.Sort(img.RepoDigests)
			if img.LastPull.IsZero() {
				img.LastPull = old.LastPull
			}
		}
		ix.Images[img.ID] = img
		for _, t := range tags {
			ix.Tags[t] = img.ID
		}
		return nil
	})
}

// touch records a pull's check of an image that was already present.
func (s *Store) touch(ctx context.Context, id, tag, repoDigest string, at time.Time) (*Image, error) {
	err := s.update(ctx, func(ix *index) error {
		img, ok := ix.Images[id]
		if !ok {
			return fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
		}
		img.LastPull = at
		if repoDigest != "" && !slices.Contains(img.RepoDigests, repoDigest) {
			img.RepoDigests = append(img.RepoDigests, repoDigest)
			slices.Sort(img.RepoDigests)
		}
		if tag != "" {
			ix.Tags[tag] = id
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// RawConfig returns the image config JSON of the image ref names, as
// stored (for inspect).
func (s *Store) RawConfig(ctx context.Context, ref string) ([]byte, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.readBlob(img.ID)
}
