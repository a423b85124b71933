package scheduler

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
)

// CopyOptions are cp's options. Exactly one of Source and Destination
// names a container path (Service set); "-" on the host side is a tar
// stream on Stdin/Stdout.
type CopyOptions struct {
	Service string
	Index   int
	// FromContainer copies ContainerPath to HostPath; else HostPath to
	// ContainerPath.
	FromContainer bool
	ContainerPath string
	HostPath      string
	// Archive keeps uid/gid (else files belong to the caller / to root in
	// the container).
	Archive    bool
	FollowLink bool
	Stdin      io.Reader
	Stdout     io.Writer
}

// Cp copies files between a running container of a service and the host.
// Container paths are resolved inside the container's root filesystem
// (/proc/<pid>/root, symlinks cannot leave it).
func (s *Service) Cp(ctx context.Context, project string, opts CopyOptions) error {
	c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
	if err != nil {
		return err
	}
	if !c.State.Running || c.State.Pid <= 0 {
		return fmt.Errorf("container %s is not running: berth copies files of running containers only: %w",
			c.Name, errdefs.ErrFailedPrecondition)
	}
	root := "/proc/" + strconv.Itoa(c.State.Pid) + "/root"
	cpath := opts.ContainerPath
	if !path.IsAbs(cpath) {
		cpath = "/" + cpath
	}
	inside, err := securejoin.SecureJoin(root, cpath)
	if err != nil {
		return err
	}
	if opts.FromContainer {
		if opts.HostPath == "-" {
			return writeTar(opts.Stdout, inside, path.Base(cpath))
		}
		return copyTree(inside, destination(inside, opts.HostPath), opts.Archive)
	}
	if opts.HostPath == "-" {
		return extractTar(opts.Stdin, root, cpath)
	}
	src := opts.HostPath
	if opts.FollowLink {
		if src, err = filepath.EvalSymlinks(src); err != nil {
			return err
		}
	}
	dst := inside
	if fi, err := os.Stat(inside); err == nil && fi.IsDir() || strings.HasSuffix(cpath, "/") {
		if dst, err = securejoin.SecureJoin(root, path.Join(cpath, filepath.Base(src))); err != nil {
			return err
		}
	}
	return copyTree(src, dst, opts.Archive)
}

// destination is where src lands for `cp src dst`: into dst when it is an
// existing directory, else at dst.
func destination(src, dst string) string {
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return filepath.Join(dst, filepath.Base(src))
	}
	return dst
}

// copyTree copies a file, symlink or directory tree.
func copyTree(src, dst string, keepOwner bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			_ = os.Remove(target)
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // devices, sockets, fifos are skipped
		}
		if keepOwner {
			if uid, gid, ok := owner(info); ok {
				_ = os.Lchown(target, uid, gid)
			}
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// writeTar streams src as a tar archive whose entries start with name.
func writeTar(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(filepath.Join(name, rel))
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			_ = f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// extractTar unpacks a tar stream into dir of the container whose root is
// root, every entry resolved inside root.
func extractTar(r io.Reader, root, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target, err := securejoin.SecureJoin(root, path.Join(dir, hdr.Name))
		if err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		}
	}
}
