package scheduler

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berthdev/berth/engine"
)

// CopyOptions are cp's options. Exactly one of Source and Destination
// names a container path (Service set); "-" on the host side is a tar
// stream on Stdin/Stdout.
type CopyOptions struct {
	Service string
	// Index selects one replica; 0: every container of the service when
	// copying into it, the first when copying out of it.
	Index int
	// All includes the containers of `run` (without Index).
	All bool
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

// Cp copies files between the host and the containers of a service, as
// docker compose cp: into every container of the service, or out of the
// first one (Index picks one). Created, running and exited containers
// alike: a stopped container's root filesystem and volumes are mounted for
// the copy, out of everyone's sight, and unmounted after it (see
// engine.WithFilesystem). Container paths are resolved inside the
// container's filesystem: symlinks cannot lead out of it.
func (s *Service) Cp(ctx context.Context, project string, opts CopyOptions) error {
	targets, err := s.copyTargets(ctx, project, opts)
	if err != nil {
		return err
	}
	var stream []byte
	if opts.HostPath == "-" && !opts.FromContainer && len(targets) > 1 {
		// One tar stream for several containers: read it once.
		if stream, err = io.ReadAll(opts.Stdin); err != nil {
			return err
		}
	}
	for _, c := range targets {
		o := opts
		if stream != nil {
			o.Stdin = bytes.NewReader(stream)
		}
		if err := s.copyOne(ctx, c, o); err != nil {
			return err
		}
	}
	return nil
}

// copyTargets are the containers Cp copies into or out of, as docker
// compose's listContainersTargetedForCopy.
func (s *Service) copyTargets(ctx context.Context, project string, opts CopyOptions) ([]*engine.Container, error) {
	if opts.Index > 0 {
		c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
		if err != nil {
			return nil, err
		}
		return []*engine.Container{c}, nil
	}
	cs, err := s.projectContainers(ctx, project, filter{services: []string{opts.Service}, oneOff: opts.All})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, kindErrorf(errdefs.ErrNotFound, "no container found for service %q", opts.Service)
	}
	if opts.FromContainer {
		return cs[:1], nil
	}
	return cs, nil
}

// copyOne copies between the host and container c, reporting it as docker
// compose does ("Copying", then "Copied").
func (s *Service) copyOne(ctx context.Context, c *engine.Container, opts CopyOptions) error {
	cpath := opts.ContainerPath
	if !path.IsAbs(cpath) {
		cpath = "/" + cpath
	}
	msg := fmt.Sprintf("copy %s to %s:%s", opts.HostPath, c.Name, opts.ContainerPath)
	if opts.FromContainer {
		msg = fmt.Sprintf("copy %s:%s to %s", c.Name, opts.ContainerPath, opts.HostPath)
	}
	s.events.emit(c.Name, Working, "Copying", msg)
	err := s.engine.WithFilesystem(ctx, c.ID, func(root string) error {
		var err error
		if opts.FromContainer {
			err = copyOut(root, cpath, opts)
		} else {
			err = copyIn(root, cpath, opts)
		}
		return hideRoot(err, root)
	})
	if err != nil {
		// docker compose reports no error line: the command's error says it.
		return containerPathError(err, c.Name)
	}
	s.events.emit(c.Name, Done, "Copied", msg)
	return nil
}

// copyOut copies cpath of the container whose files are under root to the
// host (a tar stream on opts.Stdout for "-"). A symlink is copied as a
// symlink, or with FollowLink as what it points to (inside the container).
func copyOut(root, cpath string, opts CopyOptions) error {
	inside, err := resolveIn(root, cpath, opts.FollowLink)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(inside); errors.Is(err, fs.ErrNotExist) {
		return &missingPath{path: cpath, err: err}
	}
	if opts.HostPath == "-" {
		return writeTar(opts.Stdout, inside, path.Base(cpath))
	}
	return copyTree(inside, destination(inside, opts.HostPath), opts.Archive)
}

// resolveIn returns the host path of container path p under root, every
// symlink on the way resolved inside root; the last one only when follow
// is set.
func resolveIn(root, p string, follow bool) (string, error) {
	p = path.Clean("/" + p)
	if follow || p == "/" {
		return securejoin.SecureJoin(root, p)
	}
	dir, err := securejoin.SecureJoin(root, path.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(p)), nil
}

// copyIn copies a host path (a tar stream on opts.Stdin for "-") to cpath
// of the container whose files are under root.
func copyIn(root, cpath string, opts CopyOptions) error {
	if opts.HostPath == "-" {
		return extractTar(opts.Stdin, root, cpath)
	}
	inside, err := securejoin.SecureJoin(root, cpath)
	if err != nil {
		return err
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

// hideRoot rewrites a path error's host path under root as the container
// path, so that messages name what the user sees, not berth's directories.
func hideRoot(err error, root string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && (pe.Path == root || strings.HasPrefix(pe.Path, root+"/")) {
		pe.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(pe.Path, root), "/")
	}
	return err
}

// missingPath is a container path that does not exist.
type missingPath struct {
	path string
	err  error
}

func (e *missingPath) Error() string { return e.path + ": " + e.err.Error() }
func (e *missingPath) Unwrap() error { return e.err }

// containerPathError words a missing container path as docker does.
func containerPathError(err error, container string) error {
	var cp *missingPath
	if errors.As(err, &cp) {
		return kindErrorf(errdefs.ErrNotFound, "Could not find the file %s in container %s", cp.path, container)
	}
	return err
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
