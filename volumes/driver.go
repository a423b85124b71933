package volumes

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berthdev/berth/engine/mount"
)

// driverOpts are the local driver's options, as docker's: `type` is the
// filesystem type, `o` the comma separated mount(8) options, `device` what
// is mounted (a host directory with o=bind, "tmpfs", a block device, an
// nfs export ":/path" with o=addr=…).
type driverOpts struct {
	Type   string
	O      []string
	Device string
}

// mandatoryOpts is docker's local driver rule: each key needs the others.
var mandatoryOpts = map[string][]string{
	"device": {"type"},
	"type":   {"device"},
	"o":      {"device"},
}

func parseDriverOpts(opts map[string]string) (driverOpts, error) {
	var d driverOpts
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch k {
		case "type", "o", "device":
		case "size":
			return d, fmt.Errorf("driver option \"size\" (xfs project quota) is not supported: %w", errdefs.ErrNotImplemented)
		default:
			return d, fmt.Errorf("invalid option key: %q (the local driver takes type, o and device): %w", k, errdefs.ErrInvalidArgument)
		}
		for _, req := range mandatoryOpts[k] {
			if _, ok := opts[req]; !ok {
				return d, fmt.Errorf("missing required option: %q (with %q): %w", req, k, errdefs.ErrInvalidArgument)
			}
		}
	}
	d.Type = opts["type"]
	d.Device = opts["device"]
	for o := range strings.SplitSeq(opts["o"], ",") {
		if o = strings.TrimSpace(o); o != "" {
			d.O = append(d.O, o)
		}
	}
	return d, nil
}

// plain is a volume of berth's own directory (no driver options).
func (d driverOpts) plain() bool { return d.Type == "" && d.Device == "" && len(d.O) == 0 }

// isBind is o=bind (or rbind): device is a host directory.
func (d driverOpts) isBind() bool {
	return slices.Contains(d.O, "bind") || slices.Contains(d.O, "rbind")
}

// validate checks what can be checked before the volume is used: a bind's
// device is absolute, a filesystem type is one the kernel has.
func (d driverOpts) validate() error {
	switch {
	case d.plain():
		return nil
	case d.isBind():
		if !filepath.IsAbs(d.Device) {
			return fmt.Errorf("device %q of a bind volume must be an absolute host path: %w", d.Device, errdefs.ErrInvalidArgument)
		}
		return nil
	default:
		return kernelHasFilesystem(d.Type)
	}
}

// kernelHasFilesystem checks /proc/filesystems for fstype.
func kernelHasFilesystem(fstype string) error {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return nil // cannot tell; the mount will say
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[len(fields)-1] == fstype {
			return nil
		}
	}
	return fmt.Errorf("filesystem type %q is not available in this kernel (see /proc/filesystems): %w",
		fstype, errdefs.ErrNotImplemented)
}

// Mount describes how to mount v (or its subpath, "" for all of it) into a
// container; the caller sets Target. A plain volume is a bind of its _data
// directory; a bind volume (o=bind) a bind of its device; a tmpfs or device
// volume is a mount of that filesystem with o's options, done afresh in each
// container's mount namespace (so a tmpfs volume's content is not shared
// between containers, unlike docker's, which mounts it once on the host).
//
// A subpath is resolved inside the volume with securejoin (the volume's
// content is written by containers and may hold symlinks) and must exist.
// Subpaths of tmpfs and device volumes are not supported.
func (v *Volume) Mount(subpath string) (mount.Mount, error) {
	d, err := parseDriverOpts(v.Options)
	if err != nil {
		return mount.Mount{}, fmt.Errorf("volume %q: %w", v.Name, err)
	}
	switch {
	case d.plain():
		src, err := v.subpath(v.dataDir, subpath)
		if err != nil {
			return mount.Mount{}, err
		}
		return mount.Mount{Type: "bind", Source: src}, nil
	case d.isBind():
		if _, err := os.Stat(d.Device); err != nil {
			return mount.Mount{}, fmt.Errorf("volume %q: device %s: %w; create it or recreate the volume: %w",
				v.Name, d.Device, errUnwrapPath(err), errdefs.ErrNotFound)
		}
		src, err := v.subpath(d.Device, subpath)
		if err != nil {
			return mount.Mount{}, err
		}
		var opts []string
		for _, o := range d.O {
			if o != "bind" && o != "rbind" {
				opts = append(opts, o)
			}
		}
		return mount.Mount{Type: "bind", Source: src, Options: opts}, nil
	default:
		if subpath != "" {
			return mount.Mount{}, fmt.Errorf("volume %q: subpath %q: subpaths of %s volumes are not supported: %w",
				v.Name, subpath, d.Type, errdefs.ErrNotImplemented)
		}
		return mount.Mount{Type: d.Type, Source: d.Device, Options: slices.Clone(d.O)}, nil
	}
}

// subpath resolves sub inside root (symlinks cannot leave it) and checks it
// exists.
func (v *Volume) subpath(root, sub string) (string, error) {
	if sub == "" {
		return root, nil
	}
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), "..") {
		return "", fmt.Errorf("volume %q: subpath %q must be relative and stay inside the volume: %w",
			v.Name, sub, errdefs.ErrInvalidArgument)
	}
	p, err := securejoin.SecureJoin(root, sub)
	if err != nil {
		return "", fmt.Errorf("volume %q: subpath %q: %w", v.Name, sub, err)
	}
	if _, err := os.Lstat(p); err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("volume %q: subpath %q does not exist in the volume; create it first: %w",
				v.Name, sub, errdefs.ErrNotFound)
		}
		return "", fmt.Errorf("volume %q: subpath %q: %w", v.Name, sub, err)
	}
	return p, nil
}

// errUnwrapPath drops the path of a *fs.PathError (the message names it).
func errUnwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
