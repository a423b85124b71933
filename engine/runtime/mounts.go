package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// mountUser performs the volumes, binds and tmpfs mounts (parents first)
// and then berth's files, each target resolved inside root.
func mountUser(root string, mounts, files []Mount) error {
	if len(mounts) == 0 && len(files) == 0 {
		return nil
	}
	rootDir, err := os.Open(root)
	if err != nil {
		return err
	}
	defer rootDir.Close()
	sorted := slices.Clone(mounts)
	slices.SortStableFunc(sorted, func(a, b Mount) int {
		return mountDepth(a.Target) - mountDepth(b.Target)
	})
	for _, m := range append(sorted, files...) {
		if err := mountOne(rootDir, root, m); err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
	}
	return nil
}

func mountDepth(p string) int {
	return strings.Count(path.Clean("/"+p), "/")
}

// mountOne mounts m on its target inside root. The target is created with
// openat2-style resolution (pathrs) so that a symlink, even one swapped in
// by another container sharing a volume, cannot make it land outside the
// root; the mount is then made on the resulting handle, not on a path.
func mountOne(rootDir *os.File, root string, m Mount) error {
	if !path.IsAbs(m.Target) {
		return fmt.Errorf("target must be an absolute path: %w", errdefs.ErrInvalidArgument)
	}
	if err := checkSymlinks(root, m.Target); err != nil {
		return err
	}
	// Resolve symlinks in scope first (a dangling one such as /abs ->
	// /somewhere is followed inside the root, as docker does), then make
	// the mount point through handles, so that a component swapped in the
	// meantime still cannot lead outside.
	resolved, err := securejoin.SecureJoin(root, m.Target)
	if err != nil {
		return err
	}
	clean := "/" + strings.TrimPrefix(strings.TrimPrefix(resolved, root), "/")
	if clean == "/" || clean == "/proc" || strings.HasPrefix(clean, "/proc/") {
		return fmt.Errorf("mounting over %s is not allowed: %w", clean, errdefs.ErrInvalidArgument)
	}
	flags, data, prop, err := parseMountOptions(m)
	if err != nil {
		return err
	}
	isDir := true
	if isBind(m.Type) {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("source %s: %w", m.Source, err)
		}
		isDir = fi.IsDir()
	} else if strings.ContainsAny(m.Type, "/ \x00") {
		return fmt.Errorf("mount type %q is not a filesystem type: %w", m.Type, errdefs.ErrInvalidArgument)
	}
	target, err := makeTarget(rootDir, clean, isDir)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := checkInRoot(target, root); err != nil {
		return err
	}
	if m.CopyUp && isBind(m.Type) && isDir {
		if err := copyUp(target, m.Source); err != nil {
			return fmt.Errorf("copy image content to volume %s: %w", m.Source, err)
		}
	}
	proc := fmt.Sprintf("/proc/self/fd/%d", target.Fd())
	if !isBind(m.Type) {
		// tmpfs, or a volume's own filesystem (driver_opts type/device/o).
		src := m.Source
		if src == "" {
			src = m.Type
		}
		err = unix.Mount(src, proc, m.Type, flags, strings.Join(data, ","))
	} else {
		err = unix.Mount(m.Source, proc, "", unix.MS_BIND|(flags&unix.MS_REC), "")
		if err == nil && flags&(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC) != 0 {
			// The new mount is reached through the parent's handle now.
			err = remountBind(rootDir, clean, flags)
		}
	}
	if err != nil {
		return err
	}
	if m.CopyUp && !isBind(m.Type) && m.Type != "tmpfs" {
		// A volume with its own filesystem: copy from the image's
		// directory (still reachable through the handle taken before the
		// mount) into the new mount.
		mnt, err := pathrs.OpenatInRoot(rootDir, clean)
		if err != nil {
			return err
		}
		err = copyUp(target, fmt.Sprintf("/proc/self/fd/%d", mnt.Fd()))
		mnt.Close()
		if err != nil {
			return fmt.Errorf("copy image content to volume: %w", err)
		}
	}
	if prop != 0 {
		mnt, err := pathrs.OpenatInRoot(rootDir, clean)
		if err != nil {
			return err
		}
		defer mnt.Close()
		if err := unix.Mount("", fmt.Sprintf("/proc/self/fd/%d", mnt.Fd()), "", prop, ""); err != nil {
			return fmt.Errorf("propagation: %w", err)
		}
	}
	return nil
}

func remountBind(rootDir *os.File, target string, flags uintptr) error {
	mnt, err := pathrs.OpenatInRoot(rootDir, target)
	if err != nil {
		return err
	}
	defer mnt.Close()
	p := fmt.Sprintf("/proc/self/fd/%d", mnt.Fd())
	keep := flags & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err == nil {
		keep |= uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	}
	if err := unix.Mount("", p, "", keep|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
		return fmt.Errorf("remount with %s: %w", strings.Join(flagNames(keep), ","), err)
	}
	return nil
}

func flagNames(f uintptr) []string {
	var out []string
	for _, n := range []struct {
		f uintptr
		s string
	}{{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"}} {
		if f&n.f != 0 {
			out = append(out, n.s)
		}
	}
	return out
}

// makeTarget creates the mount point (a directory, or an empty file for a
// file bind) inside root and returns an O_PATH handle on it.
func makeTarget(rootDir *os.File, target string, isDir bool) (*os.File, error) {
	if isDir {
		return pathrs.MkdirAllHandle(rootDir, target, 0o755)
	}
	parent, err := pathrs.MkdirAllHandle(rootDir, path.Dir(target), 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	name := path.Base(target)
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err == nil {
		_ = unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create mount point: %w", err)
	}
	return pathrs.OpenatInRoot(rootDir, target)
}

// checkInRoot verifies that the handle's real path is inside root.
func checkInRoot(f *os.File, root string) error {
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return err
	}
	if real != root && !strings.HasPrefix(real, strings.TrimSuffix(root, "/")+"/") {
		return fmt.Errorf("target resolves to %s, outside the container's root filesystem: %w", real, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkSymlinks refuses a target reached through a symlink of the image
// that climbs above the root with "..": resolved in scope it would land
// somewhere the image author did not point to, and it is the shape of an
// escape attempt. Absolute symlinks (/var/run -> /run) are resolved inside
// the root as docker does.
func checkSymlinks(root, target string) error {
	parts := strings.Split(strings.Trim(path.Clean(target), "/"), "/")
	var cur []string // resolved components, relative to root
	hops := 0
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		host := filepath.Join(append([]string{root}, append(cur, name)...)...)
		link, err := os.Readlink(host)
		if err != nil {
			// Not a symlink, or missing (created later as a directory).
			cur = append(cur, name)
			continue
		}
		if hops++; hops > 40 {
			return fmt.Errorf("too many levels of symbolic links: %w", errdefs.ErrInvalidArgument)
		}
		if path.IsAbs(link) {
			cur = nil
		} else {
			depth := len(cur)
			for _, c := range strings.Split(link, "/") {
				switch c {
				case "..":
					if depth == 0 {
						return fmt.Errorf("symlink /%s -> %s in the image leaves the container's root filesystem; refusing to mount there: %w",
							strings.Join(append(cur, name), "/"), link, errdefs.ErrInvalidArgument)
					}
					depth--
				case "", ".":
				default:
					depth++
				}
			}
		}
		parts = append(strings.Split(strings.Trim(link, "/"), "/"), parts...)
	}
	return nil
}

func isBind(typ string) bool { return typ == "bind" || typ == "volume" || typ == "" }

var atimeFlags = map[string]uintptr{
	"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME, "relatime": unix.MS_RELATIME,
	"strictatime": unix.MS_STRICTATIME, "sync": unix.MS_SYNCHRONOUS, "dirsync": unix.MS_DIRSYNC,
}

// parseMountOptions turns mount options into flags, data, and propagation.
// tmpfs defaults to nosuid,nodev,noexec and mode 1777 as docker's --tmpfs;
// options of other filesystems that are not flags are their data.
func parseMountOptions(m Mount) (flags uintptr, data []string, prop uintptr, err error) {
	switch {
	case m.Type == "tmpfs":
		flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	case isBind(m.Type):
		flags = unix.MS_REC
	}
	hasMode := false
	for _, o := range m.Options {
		if f, ok := atimeFlags[o]; ok {
			flags |= f
			continue
		}
		switch o {
		case "ro", "readonly":
			flags |= unix.MS_RDONLY
		case "rw":
			flags &^= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "dev":
			flags &^= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "bind":
			flags &^= unix.MS_REC
		case "rbind":
			flags |= unix.MS_REC
		case "z", "Z", "nocopy", "copy", "consistent", "cached", "delegated":
			// SELinux labels and Docker Desktop hints: nothing to do here.
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			if m.Propagation == "" {
				m.Propagation = o
			}
		default:
			if isBind(m.Type) {
				return 0, nil, 0, fmt.Errorf("unknown bind option %q: %w", o, errdefs.ErrInvalidArgument)
			}
			if strings.HasPrefix(o, "mode=") {
				hasMode = true
			}
			data = append(data, o)
		}
	}
	if m.Type == "tmpfs" && !hasMode {
		data = append(data, "mode=1777")
	}
	switch m.Propagation {
	case "", "rprivate":
		// Already so: the whole mount namespace was made rprivate first.
	case "private":
		prop = unix.MS_PRIVATE
	case "shared":
		prop = unix.MS_SHARED
	case "rshared":
		prop = unix.MS_SHARED | unix.MS_REC
	case "slave":
		prop = unix.MS_SLAVE
	case "rslave":
		prop = unix.MS_SLAVE | unix.MS_REC
	default:
		return 0, nil, 0, fmt.Errorf("unknown propagation %q: %w", m.Propagation, errdefs.ErrInvalidArgument)
	}
	return flags, data, prop, nil
}
