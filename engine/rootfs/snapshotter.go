// Package rootfs unpacks image layers into snapshots and prepares the root
// filesystem of a container from a chain of them.
//
// A snapshot is one layer applied on top of its parents, keyed by the
// layer's chainID (as containerd's), so that a layer shared by several
// images is unpacked once. On disk, under Options.Root:
//
//	<n>/fs          the layer's files, whiteouts in overlay form (char 0:0
//	                devices, trusted.overlay.opaque) or, in copy mode, listed
//	<n>/info.json   Info: chainID, parent, diffID, size, whiteout format
//	chains/<hex>    symlink "../<n>": the chainID's snapshot
//	tmp/            snapshots being built, renamed into <n> when complete
//	locks/<hex>     flock per chainID: one unpack of a layer at a time
//	.next           the next short numeric id (under the lock .next.lock)
//
// Short numeric ids keep overlay's lowerdir list short (mount(2) takes one
// page of options). Invariants: a snapshot becomes visible only through its
// chains/ link, made after the complete directory was renamed into place,
// so readers need no lock and never see half a layer; a crash leaves only
// tmp/ entries and unlinked <n> directories, which Sweep removes.
//
// Prepare returns the mounts of a container's root filesystem: an overlay
// of the chain with a per-container upper and work directory, or, where
// overlayfs is unavailable (berth's root itself on overlayfs, no privilege),
// a private copy of the merged layers bound on the root.
package rootfs

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/state"
)

// Whiteout formats of a snapshot's files.
const (
	// FormatOverlay: whiteouts are char 0:0 devices and opaque directories
	// carry trusted.overlay.opaque=y; the directory is an overlay lowerdir.
	FormatOverlay = "overlay"
	// FormatList: whiteouts and opaque directories are listed in
	// info.json; only the copy fallback can use the directory.
	FormatList = "list"
)

// Options configure a Snapshotter.
type Options struct {
	// Root is the snapshots directory (state.Paths.Snapshots()). Required.
	Root string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// ForceCopy disables overlayfs: snapshots list their whiteouts and
	// Prepare copies (tests of the fallback; roots known to be on overlayfs).
	ForceCopy bool
}

// Snapshotter unpacks layers into snapshots and prepares container root
// filesystems from them. It is safe for concurrent use, also across
// processes sharing one Root.
type Snapshotter struct {
	root      string
	log       *slog.Logger
	forceCopy bool

	probeOnce sync.Once
	overlayOK bool
	probeErr  error
}

// Info describes one snapshot.
type Info struct {
	// ChainID is the snapshot's key ("sha256:…").
	ChainID string `json:"chain_id"`
	// Parent is the parent snapshot's chainID; "" for a bottom layer.
	Parent string `json:"parent,omitempty"`
	// DiffID is the digest of the uncompressed layer tar.
	DiffID string `json:"diff_id"`
	// Size is the size of the layer's file contents, in bytes.
	Size int64 `json:"size"`
	// Created is when the layer was unpacked.
	Created time.Time `json:"created"`
	// Format is FormatOverlay or FormatList.
	Format string `json:"format"`
	// Whiteouts are the paths (relative to the layer root) this layer
	// deletes, in FormatList.
	Whiteouts []string `json:"whiteouts,omitempty"`
	// Opaque are the directories whose lower contents this layer hides,
	// in FormatList.
	Opaque []string `json:"opaque,omitempty"`
	// ID is the short numeric id (the directory name).
	ID int `json:"-"`
	// Path is the directory of the layer's files (<Root>/<id>/fs).
	Path string `json:"-"`
}

// New returns a Snapshotter over opts.Root, creating its directories.
func New(opts Options) (*Snapshotter, error) {
	if opts.Root == "" || !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("snapshots root %q must be an absolute path: %w", opts.Root, errdefs.ErrInvalidArgument)
	}
	for _, d := range []string{opts.Root, filepath.Join(opts.Root, "chains"), filepath.Join(opts.Root, "tmp"), filepath.Join(opts.Root, "locks")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("snapshots root: %w", err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Snapshotter{root: filepath.Clean(opts.Root), log: log, forceCopy: opts.ForceCopy}, nil
}

// Root is the snapshots directory.
func (s *Snapshotter) Root() string { return s.root }

// chainHex validates a chainID and returns its hex part (a safe file name).
func chainHex(chainID string) (string, error) {
	if !names.IsDigest(chainID) {
		return "", fmt.Errorf("chain id %q is not a sha256 digest: %w", chainID, errdefs.ErrInvalidArgument)
	}
	return chainID[len("sha256:"):], nil
}

func (s *Snapshotter) chainLink(hex string) string { return filepath.Join(s.root, "chains", hex) }
func (s *Snapshotter) lockPath(hex string) string  { return filepath.Join(s.root, "locks", hex) }
func (s *Snapshotter) dir(id int) string           { return filepath.Join(s.root, strconv.Itoa(id)) }

// lookup returns the numeric id of chainID's snapshot.
func (s *Snapshotter) lookup(chainID string) (int, error) {
	hex, err := chainHex(chainID)
	if err != nil {
		return 0, err
	}
	target, err := os.Readlink(s.chainLink(hex))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("snapshot %s: %w", chainID, errdefs.ErrNotFound)
		}
		return 0, fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	id, err := strconv.Atoi(strings.TrimPrefix(target, "../"))
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("snapshot %s: bad link %q", chainID, target)
	}
	return id, nil
}

// Has reports whether chainID is unpacked.
func (s *Snapshotter) Has(chainID string) bool {
	_, err := s.lookup(chainID)
	return err == nil
}

// Path returns the directory holding chainID's files (an overlay lowerdir).
func (s *Snapshotter) Path(chainID string) (string, error) {
	id, err := s.lookup(chainID)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir(id), "fs"), nil
}

// Stat returns chainID's Info; errdefs.ErrNotFound when it is absent.
func (s *Snapshotter) Stat(chainID string) (Info, error) {
	id, err := s.lookup(chainID)
	if err != nil {
		return Info{}, err
	}
	return s.readInfo(id)
}

func (s *Snapshotter) readInfo(id int) (Info, error) {
	var info Info
	if err := state.ReadJSON(filepath.Join(s.dir(id), "info.json"), &info); err != nil {
		return Info{}, fmt.Errorf("snapshot %d: %w", id, err)
	}
	info.ID = id
	info.Path = filepath.Join(s.dir(id), "fs")
	return info, nil
}

// List returns every visible snapshot.
func (s *Snapshotter) List(ctx context.Context) ([]Info, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "chains"))
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info, err := s.Stat("sha256:" + e.Name())
		if err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
				continue
			}
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Remove deletes chainID's snapshot. Gone is success. The caller makes sure
// no image or container still uses it (the image store's GC does).
func (s *Snapshotter) Remove(ctx context.Context, chainID string) error {
	hex, err := chainHex(chainID)
	if err != nil {
		return err
	}
	lock, err := state.Lock(ctx, s.lockPath(hex))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	defer lock.Unlock()
	id, err := s.lookup(chainID)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Unlink first: from here on nobody sees it, then delete the files.
	if err := os.Remove(s.chainLink(hex)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	if err := removeAll(s.dir(id)); err != nil {
		return fmt.Errorf("snapshot %s: remove %s: %w", chainID, s.dir(id), err)
	}
	_ = os.Remove(s.lockPath(hex))
	return nil
}

// Sweep removes what interrupted unpacks left: build directories whose
// lock is free and numbered directories no chain link points to.
func (s *Snapshotter) Sweep(ctx context.Context) error {
	tmps, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return err
	}
	for _, e := range tmps {
		hex, _, _ := strings.Cut(e.Name(), "-")
		if len(hex) != 64 {
			continue
		}
		l, err := state.TryLock(s.lockPath(hex))
		if err != nil {
			continue // an unpack is under way
		}
		err = removeAll(filepath.Join(s.root, "tmp", e.Name()))
		_ = l.Unlock()
		if err != nil {
			return err
		}
	}
	linked := map[int]bool{}
	links, err := os.ReadDir(filepath.Join(s.root, "chains"))
	if err != nil {
		return err
	}
	for _, e := range links {
		if id, err := s.lookup("sha256:" + e.Name()); err == nil {
			linked[id] = true
		}
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil || linked[id] {
			continue
		}
		info, err := s.readInfo(id)
		if err == nil {
			// Linked between our two reads? Then it is in use.
			if cur, err := s.lookup(info.ChainID); err == nil && cur == id {
				continue
			}
			hex, _ := chainHex(info.ChainID)
			if hex != "" && state.IsLocked(s.lockPath(hex)) {
				continue // being renamed in right now
			}
		}
		if err := removeAll(s.dir(id)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// nextID allocates a short numeric id.
func (s *Snapshotter) nextID(ctx context.Context) (int, error) {
	lock, err := state.Lock(ctx, filepath.Join(s.root, ".next.lock"))
	if err != nil {
		return 0, err
	}
	defer lock.Unlock()
	path := filepath.Join(s.root, ".next")
	n := 1
	if data, err := os.ReadFile(path); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && v > 0 {
			n = v
		}
	}
	// Skip ids whose directory exists (a counter lost in a crash).
	for {
		if _, err := os.Lstat(s.dir(n)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		n++
	}
	if err := state.WriteFile(path, []byte(strconv.Itoa(n+1)+"\n"), 0o600, false); err != nil {
		return 0, err
	}
	return n, nil
}

// removeAll is os.RemoveAll that first makes read-only directories
// writable (a layer may contain 0555 directories that root can delete
// anyway, but not every caller is root) and unmounts nothing.
func removeAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// onOverlayfs reports whether path lives on an overlayfs (where overlay
// upper and lower directories, and 0:0 whiteouts, do not work).
func onOverlayfs(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.OVERLAYFS_SUPER_MAGIC
}

// applyFormat is the whiteout format new snapshots are written in.
func (s *Snapshotter) applyFormat() string {
	if s.forceCopy || os.Geteuid() != 0 || onOverlayfs(s.root) {
		return FormatList
	}
	return FormatOverlay
}
