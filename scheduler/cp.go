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
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

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
// symlink, or with FollowLink as what it points to in the container.
func copyOut(root, cpath string, opts CopyOptions) error {
	cfs, err := openCopyRoot(root)
	if err != nil {
		return err
	}
	defer cfs.Close()
	dir, name, _, err := resolveIn(cfs.root, cpath, opts.FollowLink)
	if err != nil {
		return missingOr(err, cpath)
	}
	defer dir.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return missingOr(&fs.PathError{Op: "lstat", Path: cpath, Err: err}, cpath)
	}
	// The copy is named after cpath, a followed link after the link, as
	// docker names it; "dir/." is dir's content.
	base := path.Base(path.Clean("/" + cpath))
	if base == "/" || path.Base(cpath) == "." {
		base = "."
	}
	w := treeWalk{show: path.Clean("/" + cpath)}
	if opts.HostPath == "-" {
		tw := tar.NewWriter(opts.Stdout)
		w.put = (&tarSink{w: tw, name: base}).put
		if err := w.walk(dir, name, ""); err != nil {
			return err
		}
		return tw.Close()
	}
	w.put = (&hostSink{dst: destination(base, opts.HostPath), keepOwner: opts.Archive}).put
	return w.walk(dir, name, "")
}

// copyIn copies a host path (a tar stream on opts.Stdin for "-") to cpath
// of the container whose files are under root. cpath is resolved inside
// the container, a symlink at its end too (docker compose evaluates the
// destination's link); what is written under it never follows a symlink.
func copyIn(root, cpath string, opts CopyOptions) error {
	cfs, err := openCopyRoot(root)
	if err != nil {
		return err
	}
	defer cfs.Close()
	dir, name, p, err := resolveIn(cfs.root, cpath, true)
	if err != nil {
		return missingOr(err, cpath)
	}
	var st unix.Stat_t
	err = unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	exists, isDir := err == nil, err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if err != nil && !errors.Is(err, unix.ENOENT) {
		dir.Close()
		return &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	// The resolved directories are where the sink starts from: the
	// destination's parent, and the destination when it is a directory
	// (dir itself for the root).
	if p == "/" {
		cfs.dirs[p] = dir
	} else {
		cfs.dirs[path.Dir(p)] = dir
		if isDir {
			fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return &fs.PathError{Op: "open", Path: p, Err: err}
			}
			cfs.dirs[p] = os.NewFile(uintptr(fd), p)
		}
	}
	sink := &ctrSink{cfs: cfs, base: p, keepOwner: opts.Archive}
	if opts.HostPath == "-" || strings.HasSuffix(cpath, "/") {
		switch {
		case !exists:
			return &missingPath{path: cpath, err: fs.ErrNotExist}
		case !isDir:
			return fmt.Errorf("destination %s must be a directory: %w", cpath, errdefs.ErrInvalidArgument)
		}
	}
	if opts.HostPath == "-" {
		return extractTar(opts.Stdin, sink.put)
	}
	src := opts.HostPath
	if opts.FollowLink {
		if src, err = filepath.EvalSymlinks(src); err != nil {
			return err
		}
	}
	if isDir {
		// Named after the source (a followed link after the link); "dir/."
		// is dir's content.
		sink.base = path.Join(p, filepath.Base(opts.HostPath))
	}
	parent, name := filepath.Dir(filepath.Clean(src)), filepath.Base(filepath.Clean(src))
	if filepath.Base(src) == "." {
		parent, name = filepath.Clean(src), "."
	}
	hostDir, err := os.Open(parent)
	if err != nil {
		return err
	}
	defer hostDir.Close()
	w := treeWalk{put: sink.put, show: src}
	return w.walk(hostDir, name, "")
}

// openCopyRoot opens root, the host path under which a container's files
// are seen, as the root every container path is resolved in. What cp
// writes belongs to root in the container (containerFS's zero owner).
func openCopyRoot(root string) (*containerFS, error) {
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	return &containerFS{root: f, dirs: map[string]*os.File{}}, nil
}

// maxSymlinks bounds the links resolveIn follows at the end of a path.
const maxSymlinks = 40

// resolveIn resolves container path p in the container whose root
// directory is root. It returns a handle on the directory holding p's last
// component, that name (never "." or "..", but "." for the root itself)
// and the path resolved. Every symlink on the way is resolved in the
// container's scope (openat2 RESOLVE_IN_ROOT, through pathrs), never
// against the host's root; the last component is followed only when
// follow is set, its target joined to its directory as docker compose
// joins it, and resolved in the container's scope again.
func resolveIn(root *os.File, p string, follow bool) (*os.File, string, string, error) {
	p = path.Clean("/" + p)
	for range maxSymlinks {
		if p == "/" {
			dir, err := pathrs.OpenatInRoot(root, "/")
			return dir, ".", p, err
		}
		dir, err := pathrs.OpenatInRoot(root, path.Dir(p))
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, "", p, &fs.PathError{Op: "open", Path: path.Dir(p), Err: err}
		}
		name := path.Base(p)
		if !follow {
			return dir, name, p, nil
		}
		link, err := readlinkAt(dir, name)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return dir, name, p, nil // not a link: p is what it names
		}
		dir.Close()
		if err != nil {
			return nil, "", p, &fs.PathError{Op: "readlink", Path: p, Err: err}
		}
		if path.IsAbs(link) {
			p = path.Clean(link)
		} else {
			p = path.Join(path.Dir(p), link)
		}
	}
	return nil, "", p, &fs.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
}

// readlinkAt reads the symlink name in dir.
func readlinkAt(dir *os.File, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// missingOr words a container path that does not exist as docker does;
// other errors are returned as they are.
func missingOr(err error, cpath string) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return &missingPath{path: cpath, err: err}
	}
	return err
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

// destination is where a copy named name lands for `cp src dst`: into dst
// when it is an existing directory, else at dst.
func destination(name, dst string) string {
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return filepath.Join(dst, name)
	}
	return dst
}

// putFunc receives one entry of a copied tree: rel is its slash path under
// the copy's top ("" for the top itself), r its content for a regular file.
type putFunc func(rel string, hdr *tar.Header, r io.Reader) error

// treeWalk feeds a file, symlink or directory tree to put, parents first.
// Every entry is opened relative to its directory's handle and never
// through a symlink: a link is reported as a link, and a directory swapped
// for a link meanwhile is not entered. It walks the container's files and
// the host's alike.
type treeWalk struct {
	put  putFunc
	show string // the top's path, for messages
	// oneDev, when set, is the device of the tree's file system: a mount
	// point on another one is given as its own entry (an empty directory
	// or file), without what is mounted there (export).
	oneDev *uint64
}

// walk feeds name in dir, rel under the top, and what is under it.
func (w *treeWalk) walk(dir *os.File, name, rel string) error {
	dfd := int(dir.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return w.errorf("lstat", rel, err)
	}
	if w.oneDev != nil && st.Dev != *w.oneDev {
		if hdr := statHeader(&st, ""); hdr != nil && hdr.Typeflag != tar.TypeSymlink {
			hdr.Size = 0
			return w.put(rel, hdr, nil)
		}
		return nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		d, err := openAt(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY, &st)
		if err != nil {
			return w.errorf("open", rel, err)
		}
		defer d.Close()
		if err := w.put(rel, statHeader(&st, ""), nil); err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		if err != nil {
			return w.errorf("readdir", rel, err)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := w.walk(d, n, path.Join(rel, n)); err != nil {
				return err
			}
		}
		return nil
	case unix.S_IFLNK:
		link, err := readlinkAt(dir, name)
		if err != nil {
			return w.errorf("readlink", rel, err)
		}
		return w.put(rel, statHeader(&st, link), nil)
	case unix.S_IFREG:
		// O_NONBLOCK: a fifo swapped in meanwhile must not block the open.
		f, err := openAt(dfd, name, unix.O_RDONLY|unix.O_NONBLOCK, &st)
		if err != nil {
			return w.errorf("open", rel, err)
		}
		defer f.Close()
		if hdr := statHeader(&st, ""); hdr != nil {
			return w.put(rel, hdr, f)
		}
		return nil
	}
	if hdr := statHeader(&st, ""); hdr != nil {
		return w.put(rel, hdr, nil)
	}
	return nil // a socket: tar cannot hold one
}

// openAt opens name in directory dfd with flags, never through a symlink,
// and stats what it opened into st.
func openAt(dfd int, name string, flags int, st *unix.Stat_t) (*os.File, error) {
	fd, err := unix.Openat(dfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (w *treeWalk) errorf(op, rel string, err error) error {
	return &fs.PathError{Op: op, Path: path.Join(w.show, rel), Err: err}
}

// statHeader is the tar header of a file of stat st (link: a symlink's
// target), without a name; nil for a socket.
func statHeader(st *unix.Stat_t, link string) *tar.Header {
	hdr := &tar.Header{
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, link
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		return nil
	}
	return hdr
}

// extractTar feeds the entries of a tar stream to put. An entry whose name
// climbs above the destination is refused, as docker refuses it.
func extractTar(r io.Reader, put putFunc) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean(hdr.Name), "/")
		if name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("tar entry %q is outside of the destination directory: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
		if name == "." {
			name = ""
		}
		if err := put(name, hdr, tr); err != nil {
			return err
		}
	}
}

// copied reports whether cp writes an entry of hdr's type: directories,
// regular files and symlinks; devices, fifos and hard links are skipped.
func copied(hdr *tar.Header) bool {
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink:
		return true
	}
	return false
}

// checkOverwrite applies docker's rule to an entry written where something
// exists (isDir: a directory): a directory merges into a directory, any
// other file replaces any other file (a symlink is replaced, never
// followed), and neither replaces the other.
func checkOverwrite(target string, exists, isDir bool, hdr *tar.Header) error {
	switch {
	case isDir && hdr.Typeflag != tar.TypeDir:
		return fmt.Errorf("cannot overwrite directory %s with a non-directory; remove it first: %w", target, errdefs.ErrConflict)
	case exists && !isDir && hdr.Typeflag == tar.TypeDir:
		return fmt.Errorf("cannot overwrite non-directory %s with a directory; remove it first: %w", target, errdefs.ErrConflict)
	}
	return nil
}

// tarSink writes entries to a tar stream, under name.
type tarSink struct {
	w    *tar.Writer
	name string
}

func (s *tarSink) put(rel string, hdr *tar.Header, r io.Reader) error {
	hdr.Name = path.Join(s.name, rel)
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if err := s.w.WriteHeader(hdr); err != nil {
		return err
	}
	if r == nil || hdr.Typeflag != tar.TypeReg {
		return nil
	}
	_, err := io.Copy(s.w, io.LimitReader(r, hdr.Size))
	return err
}

// hostSink writes entries on the host at dst. dst itself is the user's
// path and has the usual meaning (a symlink there is followed); what is
// written under it comes from the container and follows docker's
// extraction rules: a symlink already there is replaced, not followed.
type hostSink struct {
	dst       string
	keepOwner bool
}

func (s *hostSink) put(rel string, hdr *tar.Header, r io.Reader) error {
	if !copied(hdr) {
		return nil
	}
	target := filepath.Join(s.dst, filepath.FromSlash(rel))
	stat := os.Lstat
	if rel == "" {
		stat = os.Stat
	}
	fi, err := stat(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	exists := err == nil
	if err := checkOverwrite(target, exists, exists && fi.IsDir(), hdr); err != nil {
		return err
	}
	perm := hdr.FileInfo().Mode().Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists {
			return nil // merged into, left as it is
		}
		err = os.Mkdir(target, perm)
	case tar.TypeSymlink:
		if exists {
			_ = os.Remove(target)
		}
		err = os.Symlink(hdr.Linkname, target)
	default:
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if rel != "" {
			if exists {
				_ = os.Remove(target)
			}
			flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | unix.O_NOFOLLOW
		}
		err = writeFile(target, flags, perm, r)
	}
	if err == nil && s.keepOwner {
		_ = os.Lchown(target, hdr.Uid, hdr.Gid)
	}
	return err
}

func writeFile(name string, flags int, perm fs.FileMode, r io.Reader) error {
	f, err := os.OpenFile(name, flags, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ctrSink writes entries into a container at base, a container path. The
// directory of each entry is resolved in the container's scope (pathrs,
// missing ones made as tar's implied directories are), and the entry is
// made in it by name alone: a symlink in its place is replaced (renamed
// over), never followed. New files and directories belong to root in the
// container, or keep their owner with keepOwner; a directory already
// there is merged into as it is.
type ctrSink struct {
	cfs       *containerFS
	base      string
	keepOwner bool
}

func (s *ctrSink) put(rel string, hdr *tar.Header, r io.Reader) error {
	if !copied(hdr) {
		return nil
	}
	target := path.Join(s.base, rel)
	if target == "/" {
		return checkOverwrite(target, true, true, hdr)
	}
	dir, err := s.cfs.dir(path.Dir(target))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &fs.PathError{Op: "mkdir", Path: path.Dir(target), Err: err}
	}
	dfd, name := int(dir.Fd()), path.Base(target)
	var st unix.Stat_t
	err = unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "lstat", Path: target, Err: err}
	}
	exists := err == nil
	if err := checkOverwrite(target, exists, exists && st.Mode&unix.S_IFMT == unix.S_IFDIR, hdr); err != nil {
		return err
	}
	uid, gid := s.cfs.uid, s.cfs.gid
	if s.keepOwner {
		uid, gid = hdr.Uid, hdr.Gid
	}
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists {
			return nil
		}
		err = s.mkdir(dfd, name, target, mode, uid, gid)
	case tar.TypeSymlink:
		tmp := tempName()
		if err = unix.Symlinkat(hdr.Linkname, dfd, tmp); err == nil {
			err = unix.Fchownat(dfd, tmp, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		err = renameInto(dfd, tmp, name, err)
	default:
		tmp := tempName()
		err = writeAt(dfd, tmp, r, mode, uid, gid)
		err = renameInto(dfd, tmp, name, err)
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: target, Err: err}
	}
	return nil
}

// mkdir makes name in directory dfd, keeps a handle on it for what goes
// into it, and gives it its mode and owner.
func (s *ctrSink) mkdir(dfd int, name, target string, mode uint32, uid, gid int) error {
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if old, ok := s.cfs.dirs[target]; ok {
		old.Close()
	}
	s.cfs.dirs[target] = os.NewFile(uintptr(fd), target)
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return err
	}
	return unix.Fchmod(fd, mode)
}

// writeAt writes r to a new file name in directory dfd.
func writeAt(dfd int, name string, r io.Reader, mode uint32, uid, gid int) error {
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = io.Copy(f, r)
	if err == nil {
		err = unix.Fchown(fd, uid, gid)
	}
	if err == nil {
		err = unix.Fchmod(fd, mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// renameInto renames tmp, just made in directory dfd (err: how that went),
// over name: a file or symlink there is replaced, not followed; a
// directory made there meanwhile is an error.
func renameInto(dfd int, tmp, name string, err error) error {
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
	}
	return err
}
