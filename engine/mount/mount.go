// Package mount is the mount description that every part of berth speaks:
// the snapshotter returns them, the runtime's init performs them inside the
// container's mount namespace. It is a leaf (stdlib and x/sys only).
package mount

import (
	"os"
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

// Mount performs m on target. This first version passes the options to
// mount(2) as one string (flags such as "ro" and "rbind" are translated);
// the images work replaces it with the fsconfig `lowerdir+` path for
// overlays with many layers.
func (m Mount) Mount(target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
		case "bind":
			flags |= unix.MS_BIND
		case "rbind":
			flags |= unix.MS_BIND | unix.MS_REC
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			data = append(data, o)
		}
	}
	typ := m.Type
	if typ == "bind" {
		flags |= unix.MS_BIND
		typ = ""
	}
	if err := unix.Mount(m.Source, target, typ, flags, strings.Join(data, ",")); err != nil {
		return &os.PathError{Op: "mount " + m.Type, Path: target, Err: err}
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return &os.PathError{Op: "remount ro", Path: target, Err: err}
		}
	}
	return nil
}
