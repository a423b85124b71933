package rootfs

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
)

// ChainID returns the chainID of a layer with diffID on top of parent (a
// chainID, "" for the bottom layer), as the OCI image spec defines it.
func ChainID(parent, diffID string) string {
	if parent == "" {
		return diffID
	}
	sum := sha256.Sum256([]byte(parent + " " + diffID))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ApplyOptions describe one layer to unpack.
type ApplyOptions struct {
	// ChainID is the new snapshot's key. Required.
	ChainID string
	// Parent is the parent snapshot's chainID; "" for a bottom layer. It
	// must be unpacked already.
	Parent string
	// DiffID is the digest of the uncompressed stream; when set, the
	// stream is verified against it (and ChainID against Parent+DiffID)
	// before the snapshot becomes visible. "" records the computed one.
	DiffID string
	// Image names the image in error messages.
	Image string
	// Layer names the layer (its blob digest) in error messages.
	Layer string
}

// Apply unpacks the uncompressed layer tar r into a new snapshot keyed by
// opts.ChainID, on top of opts.Parent, and returns its Info. When the
// snapshot exists already, Apply returns it without reading r. The layer is
// built in a temporary directory and renamed in only when it is complete
// and its digest checks out; concurrent Applies of one chainID (also in
// other processes) unpack it once. Entries that would escape the snapshot
// are refused with an *EntryError.
func (s *Snapshotter) Apply(ctx context.Context, r io.Reader, opts ApplyOptions) (_ Info, err error) {
	hexID, err := chainHex(opts.ChainID)
	if err != nil {
		return Info{}, err
	}
	if opts.DiffID != "" {
		if _, err := chainHex(opts.DiffID); err != nil {
			return Info{}, fmt.Errorf("image %s: layer diffID: %w", opts.Image, err)
		}
		if want := ChainID(opts.Parent, opts.DiffID); want != opts.ChainID {
			return Info{}, fmt.Errorf("image %s: layer %s: chain id %s does not match its parent and diffID (%s): %w",
				opts.Image, shortDigest(opts.Layer), opts.ChainID, want, errdefs.ErrInvalidArgument)
		}
	}
	if info, err := s.Stat(opts.ChainID); err == nil {
		return info, nil
	}
	lock, err := state.Lock(ctx, s.lockPath(hexID))
	if err != nil {
		return Info{}, fmt.Errorf("image %s: layer %s: %w", opts.Image, shortDigest(opts.Layer), err)
	}
	defer lock.Unlock()
	if info, err := s.Stat(opts.ChainID); err == nil {
		return info, nil // another process unpacked it while we waited
	}
	// Build directories of this layer left by a killed unpack: we hold the
	// lock, so none is in use.
	if stale, _ := filepath.Glob(filepath.Join(s.root, "tmp", hexID+"-*")); len(stale) > 0 {
		for _, d := range stale {
			_ = removeAll(d)
		}
	}
	parents, err := s.parentDirs(opts.Parent)
	if err != nil {
		return Info{}, fmt.Errorf("image %s: layer %s: %w", opts.Image, shortDigest(opts.Layer), err)
	}

	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), hexID+"-")
	if err != nil {
		return Info{}, err
	}
	defer func() {
		if err != nil {
			_ = removeAll(tmp)
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return Info{}, err
	}
	info := Info{ChainID: opts.ChainID, Parent: opts.Parent, DiffID: opts.DiffID, Format: s.applyFormat(), Created: time.Now().UTC()}
	digester := sha256.New()
	size, err := unpack(ctx, fsDir, io.TeeReader(r, digester), parents, &info, opts)
	if err != nil {
		return Info{}, err
	}
	// The tar's end-of-archive padding is part of the digest.
	if _, err := io.Copy(digester, struct{ io.Reader }{r}); err != nil { // no WriteTo: some decompressors' is broken after Read
		return Info{}, fmt.Errorf("image %s: layer %s: read: %w", opts.Image, shortDigest(opts.Layer), err)
	}
	got := digestOf(digester)
	if opts.DiffID != "" && got != opts.DiffID {
		return Info{}, fmt.Errorf("image %s: layer %s: uncompressed content has digest %s, the image config says %s: the layer is corrupt; pull the image again: %w",
			opts.Image, shortDigest(opts.Layer), got, opts.DiffID, errdefs.ErrDataLoss)
	}
	if opts.DiffID == "" {
		info.DiffID = got
		if want := ChainID(opts.Parent, got); want != opts.ChainID {
			return Info{}, fmt.Errorf("image %s: layer %s: chain id %s does not match its content (%s): %w",
				opts.Image, shortDigest(opts.Layer), opts.ChainID, want, errdefs.ErrInvalidArgument)
		}
	}
	info.Size = size
	if err := state.WriteJSON(filepath.Join(tmp, "info.json"), info, false); err != nil {
		return Info{}, err
	}
	return s.commit(ctx, tmp, hexID, info)
}

// commit renames a complete build directory in and links it; the caller
// holds the chain's lock.
func (s *Snapshotter) commit(ctx context.Context, tmp, hexID string, info Info) (Info, error) {
	id, err := s.nextID(ctx)
	if err != nil {
		return Info{}, err
	}
	if err := os.Rename(tmp, s.dir(id)); err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", info.ChainID, err)
	}
	link := s.chainLink(hexID)
	tmpLink := link + ".tmp" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmpLink)
	err = os.Symlink("../"+strconv.Itoa(id), tmpLink)
	if err == nil {
		err = os.Rename(tmpLink, link)
	}
	if err != nil {
		_ = removeAll(s.dir(id))
		return Info{}, fmt.Errorf("snapshot %s: link: %w", info.ChainID, err)
	}
	info.ID = id
	info.Path = filepath.Join(s.dir(id), "fs")
	return info, nil
}

// parentDirs returns the files directories of parent's chain, top first.
func (s *Snapshotter) parentDirs(parent string) ([]string, error) {
	var dirs []string
	for parent != "" {
		info, err := s.Stat(parent)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("parent snapshot %s is not unpacked: %w", parent, errdefs.ErrFailedPrecondition)
			}
			return nil, err
		}
		dirs = append(dirs, info.Path)
		parent = info.Parent
		if len(dirs) > maxLayers {
			return nil, fmt.Errorf("more than %d layers: %w", maxLayers, errdefs.ErrInvalidArgument)
		}
	}
	return dirs, nil
}

// maxLayers is overlayfs's limit of lower layers.
const maxLayers = 500

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// unpack applies the tar stream r to dir with containerd's applier: the
// guard refuses unsafe entries, whiteouts are converted for info.Format.
// It returns the size of the files' contents.
func unpack(ctx context.Context, dir string, r io.Reader, parents []string, info *Info, opts ApplyOptions) (int64, error) {
	g := newGuard(opts.Image, opts.Layer, parents)
	convert := archive.OverlayConvertWhiteout
	if info.Format == FormatList {
		convert = func(hdr *tar.Header, p string) (bool, error) {
			rel, err := filepath.Rel(dir, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				return false, fmt.Errorf("whiteout %q outside the layer", hdr.Name)
			}
			base := filepath.Base(rel)
			switch {
			case base == ".wh..wh..opq":
				info.Opaque = append(info.Opaque, filepath.Dir(rel))
				return false, nil
			case strings.HasPrefix(base, ".wh."):
				info.Whiteouts = append(info.Whiteouts, filepath.Join(filepath.Dir(rel), strings.TrimPrefix(base, ".wh.")))
				return false, nil
			}
			return true, nil
		}
	}
	applyOpts := []archive.ApplyOpt{
		archive.WithFilter(g.filter),
		archive.WithConvertWhiteout(convert),
		archive.WithParents(parents),
	}
	if os.Geteuid() != 0 {
		applyOpts = append(applyOpts, archive.WithNoSameOwner())
	}
	size, err := archive.Apply(ctx, dir, r, applyOpts...)
	if err != nil {
		var ee *EntryError
		if errors.As(err, &ee) {
			return 0, ee
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("image %s: layer %s: unpack: %w", opts.Image, shortDigest(opts.Layer), err)
	}
	return size, nil
}
