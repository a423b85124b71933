package image

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/state"
)

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes an image with several tags by ID, and untags an image
	// a container uses (the image itself stays until the container goes).
	Force bool
}

// Remove removes the reference ref (a tag or name@digest: untag; an ID:
// every tag) and the image when nothing names it any more, as docker rmi
// does. It returns docker's lines ("Untagged: postgres:16", "Deleted:
// sha256:…"). An image a container uses is an errdefs.ErrConflict unless
// Force. Its blobs and snapshots go when no other image uses them.
func (s *Store) Remove(ctx context.Context, ref string, opts RemoveOptions) ([]string, error) {
	used, err := s.usedImages(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	err = s.update(ctx, func(ix *index) error {
		img, err := ix.resolve(ref)
		if err != nil {
			return err
		}
		byName := false
		var named string
		if n, err := parseRef(ref); err == nil && !strings.HasPrefix(ref, "sha256:") && ix.byName(n) != nil {
			byName, named = true, n.String()
		}
		inUse := used[img.ID]
		if byName {
			if inUse && !opts.Force && len(img.RepoTags) <= 1 {
				return kinded(errdefs.ErrConflict, "image %s is used by a container: remove the container first (berth rm), or untag it with --force",
					FamiliarString(named))
			}
			if _, isTag := ix.Tags[named]; isTag {
				delete(ix.Tags, named)
				img.RepoTags = slices.DeleteFunc(img.RepoTags, func(t string) bool { return t == named })
			} else {
				img.RepoDigests = slices.DeleteFunc(img.RepoDigests, func(d string) bool { return d == named })
			}
			lines = append(lines, "Untagged: "+FamiliarString(named))
			if len(img.RepoTags) > 0 || inUse {
				return nil
			}
		} else {
			if len(img.RepoTags) > 1 && !opts.Force {
				return kinded(errdefs.ErrConflict, "image %s is referenced by %d tags (%s): remove them one by one or use --force",
					img.ShortID(), len(img.RepoTags), familiarList(img.RepoTags))
			}
			if inUse && !opts.Force {
				return kinded(errdefs.ErrConflict, "image %s is used by a container: remove the container first (berth rm), or untag it with --force",
					img.ShortID())
			}
			for _, t := range img.RepoTags {
				delete(ix.Tags, t)
				lines = append(lines, "Untagged: "+FamiliarString(t))
			}
			for _, d := range img.RepoDigests {
				lines = append(lines, "Untagged: "+FamiliarString(d))
			}
			if inUse {
				img.RepoDigests = nil
				return nil
			}
		}
		delete(ix.Images, img.ID)
		lines = append(lines, "Deleted: "+img.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.gc(ctx, false); err != nil {
		return lines, err
	}
	return lines, nil
}

func familiarList(refs []string) string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = FamiliarString(r)
	}
	return strings.Join(out, ", ")
}

// PruneOptions choose what Prune removes.
type PruneOptions struct {
	// All removes every image no container uses, not only dangling ones.
	All bool
	// Until keeps images created after it (zero: no limit).
	Until time.Time
	// Labels keeps images lacking any of these labels ("" value: the key
	// only).
	Labels map[string]string
}

// PruneReport is what Prune removed.
type PruneReport struct {
	// Lines are docker's "untagged: …" and "deleted: …" lines.
	Lines []string
	// Reclaimed is the disk space freed, in bytes.
	Reclaimed int64
}

// Prune removes dangling images (no tag), or with All every image that no
// container uses, then the blobs and snapshots nothing references.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	used, err := s.usedImages(ctx)
	if err != nil {
		return PruneReport{}, err
	}
	var rep PruneReport
	err = s.update(ctx, func(ix *index) error {
		for _, img := range sortedImages(ix) {
			if used[img.ID] || (!opts.All && len(img.RepoTags) > 0) {
				continue
			}
			if !opts.Until.IsZero() && img.Created.After(opts.Until) {
				continue
			}
			if !labelsMatch(img.Config.Labels, opts.Labels) {
				continue
			}
			for _, t := range img.RepoTags {
				delete(ix.Tags, t)
				rep.Lines = append(rep.Lines, "untagged: "+FamiliarString(t))
			}
			for _, d := range img.RepoDigests {
				rep.Lines = append(rep.Lines, "untagged: "+FamiliarString(d))
			}
			delete(ix.Images, img.ID)
			rep.Lines = append(rep.Lines, "deleted: "+img.ID)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Reclaimed, err = s.gc(ctx, true)
	return rep, err
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || (v != "" && hv != v) {
			return false
		}
	}
	return true
}

// gcLockPath is held shared by every operation that adds content before
// it is recorded (pull, load, import), and exclusively by GC, so GC never
// removes a blob or layer that is about to be referenced.
func (s *Store) gcLockPath() string { return filepath.Join(s.root, "gc.lock") }

// holdContent takes the shared side of the GC lock; release with the
// returned function.
func (s *Store) holdContent(ctx context.Context) (func(), error) {
	return flockWait(ctx, s.gcLockPath(), unix.LOCK_SH)
}

// flockWait takes a flock of kind on path, waiting for ctx.
func flockWait(ctx context.Context, path string, kind int) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), kind|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// gc removes blobs and snapshots that no image references. wait says
// whether to wait for pulls in progress; otherwise GC is skipped while
// one runs (the next one collects). It returns the bytes freed.
func (s *Store) gc(ctx context.Context, wait bool) (int64, error) {
	var release func()
	var err error
	if wait {
		release, err = flockWait(ctx, s.gcLockPath(), unix.LOCK_EX)
	} else {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		release, err = flockWait(tctx, s.gcLockPath(), unix.LOCK_EX)
		cancel()
		if err != nil && ctx.Err() == nil {
			return 0, nil // a pull is under way
		}
	}
	if err != nil {
		return 0, err
	}
	defer release()
	ix, err := s.readIndex()
	if err != nil {
		return 0, err
	}
	blobs := map[string]bool{}
	chains := map[string]bool{}
	for _, img := range ix.Images {
		blobs[img.ID] = true
		blobs[img.Manifest] = true
		for _, l := range img.Layers {
			blobs[l.Digest] = true
		}
		for _, c := range img.ChainIDs {
			chains[c] = true
		}
	}
	var freed int64
	var errs []error
	snaps, err := s.snaps.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, sn := range snaps {
		if chains[sn.ChainID] {
			continue
		}
		if err := s.snaps.Remove(ctx, sn.ChainID); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += sn.Size
	}
	entries, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	if err != nil {
		return freed, err
	}
	for _, e := range entries {
		d := "sha256:" + e.Name()
		if blobs[d] || !names.IsDigest(d) {
			continue
		}
		size := s.blobSize(d)
		if err := s.removeBlob(d); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += max(size, 0)
	}
	if wait {
		freed += s.sweepIngest()
		if err := s.snaps.Sweep(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return freed, errors.Join(errs...)
}

// sweepIngest removes partial downloads nobody is working on.
func (s *Store) sweepIngest() int64 {
	entries, err := os.ReadDir(filepath.Join(s.root, "ingest"))
	if err != nil {
		return 0
	}
	var freed int64
	for _, e := range entries {
		p := filepath.Join(s.root, "ingest", e.Name())
		if strings.HasPrefix(e.Name(), "new-") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				freed += fi.Size()
				_ = os.Remove(p)
			}
			continue
		}
		if state.IsLocked(s.blobLock(e.Name())) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			freed += fi.Size()
		}
		_ = os.Remove(p)
	}
	return freed
}

// Usage is the image store's disk use, for `system df`.
type Usage struct {
	// Images and Active count the images and those containers use.
	Images, Active int
	// Size is the unpacked size of all layers (shared ones once).
	Size int64
	// Reclaimable is what removing the unused images would free.
	Reclaimable int64
}

// DiskUsage reports the store's disk use.
func (s *Store) DiskUsage(ctx context.Context) (Usage, error) {
	used, err := s.usedImages(ctx)
	if err != nil {
		return Usage{}, err
	}
	ix, err := s.readIndex()
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	all, active := map[string]int64{}, map[string]bool{}
	for _, img := range ix.Images {
		u.Images++
		if used[img.ID] {
			u.Active++
		}
		for i, c := range img.ChainIDs {
			if i < len(img.Layers) {
				all[c] = img.Layers[i].UnpackedSize
			}
			if used[img.ID] {
				active[c] = true
			}
		}
	}
	for c, size := range all {
		u.Size += size
		if !active[c] {
			u.Reclaimable += size
		}
	}
	return u, nil
}
