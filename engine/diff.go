package engine

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/pkg/archive"
	cfs "github.com/containerd/continuity/fs"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// DiffOptions are Diff's.
type DiffOptions struct {
	// Pause freezes a running container while its changes are read, so
	// that they are consistent (docker commit's default).
	Pause bool
}

// Diff writes the changes a container made to its image's files, its
// writable layer, to w as an uncompressed OCI layer: added and changed
// files, and whiteouts for deleted ones. It is what commit stores as the
// new image's top layer (and what a builder's RUN step will). The changes
// are read from the overlay's upper directory against a read-only view of
// the image's layers (containerd's overlay diff, as buildkit's).
func (e *Engine) Diff(ctx context.Context, id string, w io.Writer, opts DiffOptions) error {
	rec, err := e.resolve(id)
	if err != nil {
		return err
	}
	var lowers []string
	var upper string
	for _, m := range rec.Monitor.Init.Rootfs {
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lowers = strings.Split(v, ":")
			} else if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				upper = v
			}
		}
	}
	if upper == "" || len(lowers) == 0 {
		return fmt.Errorf("container %s: its root filesystem is a copy (overlayfs was not available when it was created): its changes cannot be told from its image's files: %w",
			rec.Name, errdefs.ErrNotImplemented)
	}
	if err := checkPlainUpper(upper); err != nil {
		return fmt.Errorf("container %s: %w", rec.Name, err)
	}
	if opts.Pause {
		if c, err := e.Inspect(ctx, rec.ID); err == nil && c.State.Running && !c.State.Paused {
			if err := e.Pause(ctx, rec.ID); err != nil {
				return err
			}
			defer func() { _ = e.Unpause(context.WithoutCancel(ctx), rec.ID) }()
		}
	}
	return inPrivateMountNamespace(func() error {
		base := lowers[0]
		if len(lowers) > 1 {
			dir, err := os.MkdirTemp("", "berth-diff-")
			if err != nil {
				return err
			}
			defer os.Remove(dir)
			// The image's layers, read-only; the mount goes with the
			// private namespace.
			if err := unix.Mount("overlay", dir, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
				return fmt.Errorf("container %s: mount its image's layers: %w", rec.Name, err)
			}
			defer func() { _ = unix.Unmount(dir, unix.MNT_DETACH) }()
			base = dir
		}
		cw := archive.NewChangeWriter(w, upper)
		change := func(k cfs.ChangeKind, p string, f os.FileInfo, err error) error {
			if err == nil && k != cfs.ChangeKindDelete && isInitPath(p) {
				return nil
			}
			return cw.HandleChange(k, p, f, err)
		}
		if err := cfs.DiffDirChanges(ctx, base, upper, cfs.DiffSourceOverlayFS, change); err != nil {
			return fmt.Errorf("container %s: read its changes: %w", rec.Name, err)
		}
		return cw.Close()
	})
}

// isInitPath reports the mount points berth's init makes in every
// container's root (p is "/etc/hosts"…): docker keeps them in an init
// layer that commit leaves out, and so does Diff: what is in the upper
// directory there is an empty placeholder, never the container's data.
func isInitPath(p string) bool {
	switch p {
	case "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/dev":
		return true
	}
	return strings.HasPrefix(p, "/dev/")
}

// checkPlainUpper refuses an upper directory whose meaning needs the
// lower layers (a directory renamed with redirect_dir, a file copied up
// as metadata only with metacopy): berth mounts without either, but a
// kernel may default to them.
func checkPlainUpper(upper string) error {
	buf := make([]byte, 256)
	return filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy"} {
			if _, err := unix.Lgetxattr(p, x, buf); err == nil {
				rel, _ := filepath.Rel(upper, p)
				return fmt.Errorf("/%s is an overlay %s entry, which berth cannot diff (turn off the overlay module's redirect_dir and metacopy): %w",
					rel, strings.TrimPrefix(x, "trusted.overlay."), errdefs.ErrNotImplemented)
			}
		}
		return nil
	})
}
