package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine"
)

// pathMapping is one changed host path and where it lands in a container.
type pathMapping struct {
	host, container string
}

// syncService brings the changed host paths into every running container
// of service, as docker compose's watch does: a path present on the host
// is copied (a directory with its content), a path gone from the host is
// removed from the container. Containers that are not running are skipped.
// The errors of every container are returned together.
func (s *Service) syncService(ctx context.Context, project, service string, maps []pathMapping) error {
	cs, err := s.projectContainers(ctx, project, filter{services: []string{service}})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !c.State.Running || c.State.Pid <= 0 {
			continue
		}
		if err := syncInto(c, maps); err != nil {
			errs = append(errs, fmt.Errorf("service %q: sync into container %s: %w", service, c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// syncInto applies maps to one running container: removals first, then
// copies, the last mapping of a container path winning.
func syncInto(c *engine.Container, maps []pathMapping) error {
	cfs, err := openContainerFS(c)
	if err != nil {
		return err
	}
	defer cfs.Close()
	last := map[string]int{}
	for i, m := range maps {
		last[m.container] = i
	}
	var removes, copies []pathMapping
	for i, m := range maps {
		if last[m.container] != i {
			continue
		}
		if _, err := os.Lstat(m.host); errors.Is(err, fs.ErrNotExist) {
			removes = append(removes, m)
		} else {
			copies = append(copies, m)
		}
	}
	var errs []error
	for _, m := range removes {
		if err := cfs.remove(m.container); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", m.container, err))
		}
	}
	for _, m := range copies {
		if err := cfs.copy(m.host, m.container); err != nil {
			errs = append(errs, fmt.Errorf("copy %s to %s: %w", m.host, m.container, err))
		}
	}
	return errors.Join(errs...)
}

// containerFS writes into a running container's root file system from the
// host, through /proc/<pid>/root. Every container path is resolved inside
// that root (openat2 RESOLVE_IN_ROOT through pathrs: a symlink in the
// container, absolute or swapped in meanwhile, cannot lead out of it), and
// only single names are then used relative to the resolved directory,
// never following a symlink: a symlink at the destination is replaced, as
// docker's archive extraction does. What is written belongs to the
// container's user, as docker compose's sync (CopyUIDGID) makes it.
type containerFS struct {
	root     *os.File
	uid, gid int
	dirs     map[string]*os.File // resolved parent directories, by container path
}

func openContainerFS(c *engine.Container) (*containerFS, error) {
	root, err := os.OpenFile("/proc/"+strconv.Itoa(c.State.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	cfs := &containerFS{root: root, dirs: map[string]*os.File{}}
	if cfs.uid, cfs.gid, err = cfs.owner(c.Spec.User); err != nil {
		root.Close()
		return nil, err
	}
	return cfs, nil
}

func (cfs *containerFS) Close() {
	for _, d := range cfs.dirs {
		d.Close()
	}
	cfs.root.Close()
}

// owner resolves the container's user ("" is root) against its own
// /etc/passwd and /etc/group.
func (cfs *containerFS) owner(spec string) (int, int, error) {
	if spec == "" {
		return 0, 0, nil
	}
	var passwd, group io.Reader
	if f, err := pathrs.OpenatInRoot(cfs.root, "/etc/passwd"); err == nil {
		defer f.Close()
		if r, err := pathrs.Reopen(f, unix.O_RDONLY|unix.O_CLOEXEC); err == nil {
			defer r.Close()
			passwd = r
		}
	}
	if f, err := pathrs.OpenatInRoot(cfs.root, "/etc/group"); err == nil {
		defer f.Close()
		if r, err := pathrs.Reopen(f, unix.O_RDONLY|unix.O_CLOEXEC); err == nil {
			defer r.Close()
			group = r
		}
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q of the container: %w", spec, err)
	}
	return u.Uid, u.Gid, nil
}

// dir returns a handle on the container directory dir, made (0755, root's)
// when missing.
func (cfs *containerFS) dir(dir string) (*os.File, error) {
	if d, ok := cfs.dirs[dir]; ok {
		return d, nil
	}
	d, err := pathrs.MkdirAllHandle(cfs.root, dir, 0o755)
	if err != nil {
		return nil, err
	}
	cfs.dirs[dir] = d
	return d, nil
}

// remove deletes cpath (a directory with its content) from the container;
// a path already gone is success.
func (cfs *containerFS) remove(cpath string) error {
	cpath = path.Clean("/" + cpath)
	if cpath == "/" {
		return fmt.Errorf("refusing to empty the container's root: check the rule's target")
	}
	parent, err := pathrs.OpenatInRoot(cfs.root, path.Dir(cpath))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	return removeAt(parent, path.Base(cpath))
}

// removeAt removes name from dir whatever it is; gone is success.
func removeAt(dir *os.File, name string) error {
	err := unix.Unlinkat(int(dir.Fd()), name, 0)
	if errors.Is(err, unix.EISDIR) {
		// RemoveAll walks with openat/unlinkat and never follows a
		// symlink below the handle.
		return os.RemoveAll(fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), name))
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// copy copies the host file, symlink or directory tree at host to cpath.
// Entries that vanish from the host meanwhile are skipped (their removal
// is the next batch's).
func (cfs *containerFS) copy(host, cpath string) error {
	cpath = path.Clean("/" + cpath)
	if cpath == "/" {
		return fmt.Errorf("refusing to replace the container's root: check the rule's target")
	}
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		target := path.Join(cpath, filepath.ToSlash(rel))
		parent, err := cfs.dir(path.Dir(target))
		if err != nil {
			return err
		}
		return cfs.put(parent, path.Base(target), p, info)
	})
}

// put makes name in parent a copy of the host entry p.
func (cfs *containerFS) put(parent *os.File, name, p string, info fs.FileInfo) error {
	pfd := int(parent.Fd())
	switch {
	case info.IsDir():
		var st unix.Stat_t
		err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR:
			if err := removeAt(parent, name); err != nil {
				return err
			}
			fallthrough
		case errors.Is(err, unix.ENOENT):
			if err := unix.Mkdirat(pfd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
		case err != nil:
			return err
		}
		fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Fchmod(fd, uint32(info.Mode().Perm())); err != nil {
			return err
		}
		return unix.Fchown(fd, cfs.uid, cfs.gid)
	case info.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(p)
		if err != nil {
			return skipGone(err)
		}
		tmp := tempName()
		if err := unix.Symlinkat(link, pfd, tmp); err != nil {
			return err
		}
		if err := unix.Fchownat(pfd, tmp, cfs.uid, cfs.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			_ = unix.Unlinkat(pfd, tmp, 0)
			return err
		}
		return replaceAt(parent, tmp, name)
	case info.Mode().IsRegular():
		in, err := os.Open(p)
		if err != nil {
			return skipGone(err)
		}
		defer in.Close()
		tmp := tempName()
		fd, err := unix.Openat(pfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(fd), tmp)
		_, err = io.Copy(out, in)
		if err == nil {
			err = out.Chmod(info.Mode().Perm())
		}
		if err == nil {
			err = out.Chown(cfs.uid, cfs.gid)
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = unix.Unlinkat(pfd, tmp, 0)
			return err
		}
		return replaceAt(parent, tmp, name)
	}
	return nil // devices, sockets and fifos are not synced, as docker's archive skips them
}

// replaceAt renames tmp over name in dir (atomically for a reader in the
// container), removing a directory in the way first.
func replaceAt(dir *os.File, tmp, name string) error {
	fd := int(dir.Fd())
	err := unix.Renameat(fd, tmp, fd, name)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		if err = removeAt(dir, name); err == nil {
			err = unix.Renameat(fd, tmp, fd, name)
		}
	}
	if err != nil {
		_ = unix.Unlinkat(fd, tmp, 0)
	}
	return err
}

// tempName is a fresh hidden name for a file being written.
func tempName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return ".berth-sync-" + hex.EncodeToString(b)
}

// skipGone turns a vanished host entry into success.
func skipGone(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
