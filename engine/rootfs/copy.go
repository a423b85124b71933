package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// copyLayer merges one snapshot into the directory dst, as overlayfs would
// show it on top of what dst holds: whiteouts (listed, or char 0:0 devices)
// delete, opaque directories hide, everything else is copied with its
// owner, mode, extended attributes and times; hard links within the layer
// stay hard links. Every destination is resolved inside dst.
func copyLayer(ctx context.Context, dst string, info Info) error {
	for _, d := range info.Opaque {
		p, err := securejoin.SecureJoin(dst, d)
		if err != nil {
			return err
		}
		if err := clearDir(p); err != nil {
			return err
		}
	}
	for _, w := range info.Whiteouts {
		p, err := securejoin.SecureJoin(dst, w)
		if err != nil {
			return err
		}
		if p == dst {
			continue
		}
		if err := removeAll(p); err != nil {
			return err
		}
	}
	src := info.Path
	links := map[uint64]string{} // inode → first destination
	type dirMeta struct {
		src, path string
		st        *unix.Stat_t
	}
	var dirs []dirMeta
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		parent, err := securejoin.SecureJoin(dst, filepath.Dir(rel))
		if err != nil {
			return err
		}
		target := filepath.Join(parent, filepath.Base(rel))
		mode := st.Mode & unix.S_IFMT
		if mode == unix.S_IFCHR && st.Rdev == 0 {
			return removeAll(target) // overlay whiteout
		}
		existing, lerr := os.Lstat(target)
		if mode == unix.S_IFDIR {
			if lerr == nil && !existing.IsDir() {
				if err := removeAll(target); err != nil {
					return err
				}
				lerr = fs.ErrNotExist
			}
			if lerr != nil {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			} else if isOpaque(p) {
				if err := clearDir(target); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirMeta{p, target, &st})
			return nil
		}
		if lerr == nil {
			if err := removeAll(target); err != nil {
				return err
			}
		}
		if st.Nlink > 1 && mode != unix.S_IFDIR {
			if first, ok := links[st.Ino]; ok {
				return os.Link(first, target)
			}
			links[st.Ino] = target
		}
		switch mode {
		case unix.S_IFREG:
			if err := copyFile(p, target); err != nil {
				return err
			}
		case unix.S_IFLNK:
			dest, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(dest, target); err != nil {
				return err
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		default:
			return nil // sockets are not copied
		}
		return copyMeta(p, target, &st)
	})
	if err != nil {
		return err
	}
	// Directories last, deepest first, so their times stick.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := copyMeta(dirs[i].src, dirs[i].path, dirs[i].st); err != nil {
			return err
		}
	}
	return nil
}

// clearDir empties dir (creating it if missing) but keeps it.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := removeAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a regular file's data, sharing extents (FICLONE) when
// the filesystem can.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err != nil {
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
	}
	return out.Close()
}

// copyMeta gives dst src's owner, mode, extended attributes (not
// overlayfs's own) and times.
func copyMeta(src, dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times %s: %w", dst, err)
	}
	return nil
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size <= 0 {
		return nil // no xattrs, or the filesystem has none
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return nil
	}
	for name := range strings.SplitSeq(string(buf[:size]), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil &&
			!errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xattr %s on %s: %w", name, dst, err)
		}
	}
	return nil
}
