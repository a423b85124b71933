// Package mount is the mount description that every part of berth speaks:
// the snapshotter returns them, the runtime's init performs them inside the
// container's mount namespace. It is a leaf (stdlib and x/sys only).
package mount

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
