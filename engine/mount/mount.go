// Package mount is the mount description that every part of berth speaks:
// the snapshotter returns them, the runtime's init performs them inside the
// container's mount namespace. It is a leaf (stdlib and x/sys only).
//
// Overlay mounts with many layers are the hard case: mount(2) copies its
// option string as one page, so a long lowerdir list fails (with ENOENT, not
// E2BIG). Mount handles it in three steps, cheapest first:
//
//  1. options that fit in a page go to mount(2) as they are;
//  2. otherwise the new mount API is used, one fsconfig "lowerdir+" per
//     layer (Linux 6.8 and later; at most 500 layers);
//  3. otherwise the common prefix of the layer paths is stripped and the
//     mount is made relative to it after unshare(CLONE_FS)+chdir on the
//     calling thread (containerd's technique), which with berth's short
//     snapshot paths fits about 500 layers in a page.
//
// Every path works from whatever thread calls it, in that thread's mount
// namespace: the container init calls Mount from its locked main thread.
package mount

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount to perform, in the fstab sense.
type Mount struct {
	// Type is the filesystem type: "overlay", "bind", "tmpfs", …
	Type string `json:"type"`
	// Source is the device or host path ("overlay" for overlayfs).
	Source string `json:"source"`
	// Target is where it goes; for a root filesystem it is empty and the
	// caller supplies the target.
	Target string `json:"target,omitempty"`
	// Options are the mount options as mount(8) takes them ("ro",
	// "lowerdir=…", "rbind", …).
	Options []string `json:"options,omitempty"`
}

// flagOptions are the options that are mount flags rather than data.
var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"noatime":     {false, unix.MS_NOATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"remount":     {false, unix.MS_REMOUNT},
	"private":     {false, unix.MS_PRIVATE},
	"rprivate":    {false, unix.MS_PRIVATE | unix.MS_REC},
	"slave":       {false, unix.MS_SLAVE},
	"rslave":      {false, unix.MS_SLAVE | unix.MS_REC},
	"shared":      {false, unix.MS_SHARED},
	"rshared":     {false, unix.MS_SHARED | unix.MS_REC},
}

// parseOptions splits options into mount(2) flags and the data string's
// parts.
func parseOptions(options []string) (flags uintptr, data []string) {
	for _, o := range options {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	return flags, data
}

// pageSize is the limit of mount(2)'s option data, terminating NUL included.
var pageSize = os.Getpagesize()

// Mount performs m on target.
func (m Mount) Mount(target string) error {
	flags, data := parseOptions(m.Options)
	typ := m.Type
	if typ == "bind" {
		flags |= unix.MS_BIND
		typ = ""
	}
	if typ == "overlay" {
		if err := mountOverlay(m.Source, target, flags, data); err != nil {
			return &os.PathError{Op: "mount overlay", Path: target, Err: err}
		}
		return nil
	}
	propagation := flags & (unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_SHARED | unix.MS_UNBINDABLE)
	flags &^= propagation
	if err := unix.Mount(m.Source, target, typ, flags, strings.Join(data, ",")); err != nil {
		return &os.PathError{Op: "mount " + m.Type, Path: target, Err: err}
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return &os.PathError{Op: "remount ro", Path: target, Err: err}
		}
	}
	if propagation != 0 {
		if err := unix.Mount("", target, "", propagation|(flags&unix.MS_REC), ""); err != nil {
			return &os.PathError{Op: "mount propagation", Path: target, Err: err}
		}
	}
	return nil
}

// Unmount detaches target; a target that is not mounted (or gone) is
// success, so cleanup can call it blindly.
func Unmount(target string) error {
	for {
		err := unix.Unmount(target, unix.MNT_DETACH)
		switch {
		case err == nil:
			continue // stacked mounts: take them all
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return &os.PathError{Op: "unmount", Path: target, Err: err}
	}
}

// mountOverlay mounts an overlay filesystem, choosing the technique by the
// length of its options (see the package comment).
func mountOverlay(source, target string, flags uintptr, data []string) error {
	joined := strings.Join(data, ",")
	if len(joined) < pageSize {
		return unix.Mount(source, target, "overlay", flags, joined)
	}
	err := mountOverlayFsconfig(target, flags, data)
	if err == nil || !errors.Is(err, errNoLowerdirPlus) {
		return err
	}
	return mountOverlayCompact(source, target, flags, data)
}

// errNoLowerdirPlus says the kernel lacks the new mount API or overlay's
// "lowerdir+" key; the caller falls back to compaction.
var errNoLowerdirPlus = errors.New(`overlay "lowerdir+" not supported`)

// mountOverlayFsconfig mounts with fsopen/fsconfig/fsmount/move_mount,
// passing each lower layer with its own "lowerdir+" (top layer first, as in
// the lowerdir= option).
func mountOverlayFsconfig(target string, flags uintptr, data []string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: fsopen: %v", errNoLowerdirPlus, err)
		}
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for _, o := range data {
		key, value, hasValue := strings.Cut(o, "=")
		switch {
		case key == "lowerdir":
			for dir := range strings.SplitSeq(value, ":") {
				if err := unix.FsconfigSetString(fd, "lowerdir+", dir); err != nil {
					if errors.Is(err, unix.EINVAL) {
						return fmt.Errorf("%w: %s: %v", errNoLowerdirPlus, dir, err)
					}
					return fmt.Errorf("fsconfig lowerdir+ %s: %w", dir, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fd, key, value); err != nil {
				return fmt.Errorf("fsconfig %s=%s: %w", key, value, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fd, key); err != nil {
				return fmt.Errorf("fsconfig %s: %w", key, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	var attr int
	if flags&unix.MS_RDONLY != 0 {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	if flags&unix.MS_NOATIME != 0 {
		attr |= unix.MOUNT_ATTR_NOATIME
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// mountOverlayCompact strips the longest common directory prefix of the
// lower layer paths, then mounts with relative paths from that directory. The chdir happens on the calling
// thread after unshare(CLONE_FS), so no other thread's working directory
// moves; the thread stays locked to the calling goroutine afterwards (its
// fs_struct is no longer shared) and its working directory is restored.
func mountOverlayCompact(source, target string, flags uintptr, data []string) error {
	var lowers []string
	for _, o := range data {
		if key, value, _ := strings.Cut(o, "="); key == "lowerdir" {
			lowers = append(lowers, strings.Split(value, ":")...)
		}
	}
	prefix := commonDir(lowers)
	if prefix == "" || prefix == "/" {
		return fmt.Errorf("overlay options are %d bytes (limit %d) and the layers share no directory to shorten them: %w",
			len(strings.Join(data, ",")), pageSize, unix.E2BIG)
	}
	// Only the lower layers become relative; upperdir and workdir stay
	// absolute (they live elsewhere, with the container).
	compact := make([]string, 0, len(data))
	for _, o := range data {
		if key, value, _ := strings.Cut(o, "="); key == "lowerdir" {
			dirs := strings.Split(value, ":")
			for i, d := range dirs {
				dirs[i] = strings.TrimPrefix(d, prefix+"/")
			}
			o = key + "=" + strings.Join(dirs, ":")
		}
		compact = append(compact, o)
	}
	joined := strings.Join(compact, ",")
	if len(joined) >= pageSize {
		return fmt.Errorf("overlay options are %d bytes after compaction (limit %d): too many layers: %w",
			len(joined), pageSize, unix.E2BIG)
	}
	absTarget := target
	if !strings.HasPrefix(target, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		absTarget = wd + "/" + target
	}
	// Locked for good: after unshare(CLONE_FS) this thread's cwd is its own.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	old, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := unix.Chdir(prefix); err != nil {
		return fmt.Errorf("chdir %s: %w", prefix, err)
	}
	defer func() { _ = unix.Chdir(old) }()
	return unix.Mount(source, absTarget, "overlay", flags, joined)
}

// commonDir returns the longest directory that contains every path.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	prefix := paths[0]
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, prefix+"/") && p != prefix {
			i := strings.LastIndexByte(prefix, '/')
			if i <= 0 {
				return "/"
			}
			prefix = prefix[:i]
		}
	}
	// prefix may be one of the paths itself; use its directory so that
	// every path keeps a non-empty relative name.
	for _, p := range paths {
		if p == prefix {
			if i := strings.LastIndexByte(prefix, '/'); i > 0 {
				return prefix[:i]
			}
			return "/"
		}
	}
	return prefix
}
