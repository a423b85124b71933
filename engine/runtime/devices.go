package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/devrule"
)

// DeviceRule is one device cgroup rule (see package devrule, its one
// definition).
type DeviceRule = devrule.Rule

// DeviceMapping is a compose `devices:` entry: a host node (or a directory
// of nodes) made available at a container path with cgroup permissions.
type DeviceMapping struct {
	PathOnHost      string
	PathInContainer string // "" means PathOnHost
	Permissions     string // "" means "rwm"
}

// HostDevices stats the mapped host nodes and returns the devices to create
// and the cgroup rules that allow them. A directory maps every node below
// it, as docker does.
func HostDevices(maps []DeviceMapping) ([]Device, []DeviceRule, error) {
	var devs []Device
	var rules []DeviceRule
	for _, m := range maps {
		perms := m.Permissions
		if perms == "" {
			perms = "rwm"
		}
		if !devrule.ValidAccess(perms) {
			return nil, nil, fmt.Errorf("devices: %s: permissions %q must be made of r, w and m, each at most once: %w", m.PathOnHost, perms, errdefs.ErrInvalidArgument)
		}
		dst := m.PathInContainer
		if dst == "" {
			dst = m.PathOnHost
		}
		if !path.IsAbs(dst) {
			return nil, nil, fmt.Errorf("devices: %s: container path %q must be absolute: %w", m.PathOnHost, dst, errdefs.ErrInvalidArgument)
		}
		err := filepath.WalkDir(m.PathOnHost, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || (d.Type()&fs.ModeSymlink != 0 && p != m.PathOnHost) {
				return nil
			}
			dev, err := deviceFromPath(p)
			if errors.Is(err, errNotDevice) {
				if p == m.PathOnHost {
					return fmt.Errorf("%s is not a device node: %w", p, errdefs.ErrInvalidArgument)
				}
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(m.PathOnHost, p)
			dev.Path = path.Join(dst, filepath.ToSlash(rel))
			devs = append(devs, dev)
			rules = append(rules, DeviceRule{Allow: true, Type: dev.Type, Major: dev.Major, Minor: dev.Minor, Access: perms})
			return nil
		})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil, fmt.Errorf("devices: %s: no such device on the host: %w", m.PathOnHost, errdefs.ErrNotFound)
			}
			return nil, nil, fmt.Errorf("devices: %s: %w", m.PathOnHost, err)
		}
	}
	return devs, rules, nil
}

var errNotDevice = errors.New("not a device node")

func deviceFromPath(p string) (Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return Device{}, err
	}
	var typ rune
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = 'c'
	case unix.S_IFBLK:
		typ = 'b'
	default:
		return Device{}, errNotDevice
	}
	return Device{
		Type:  typ,
		Major: int64(unix.Major(st.Rdev)),
		Minor: int64(unix.Minor(st.Rdev)),
		Mode:  st.Mode & 0o777,
		UID:   st.Uid,
		GID:   st.Gid,
	}, nil
}
