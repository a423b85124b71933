package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// DeviceRule is one device cgroup rule, as the v1 devices controller's
// devices.allow / devices.deny lines: Type 'a', 'c' or 'b'; Major and
// Minor -1 for "*"; Access a subset of "rwm".
type DeviceRule struct {
	Allow  bool   `json:"allow"`
	Type   rune   `json:"type"`
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Access string `json:"access"`
}

// String is the rule in devices.allow syntax ("c 1:3 rwm").
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	if r.Type == 'a' {
		return "a *:* " + r.Access
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, num(r.Major), num(r.Minor), r.Access)
}

// DefaultDeviceRules are docker's (runc's) device rules for an unprivileged
// container: deny everything, then allow mknod of any node and use of the
// standard nodes, ptys and /dev/net/tun.
var DefaultDeviceRules = []DeviceRule{
	{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"},
	{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"},
	{Allow: true, Type: 'b', Major: -1, Minor: -1, Access: "m"},
	{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"},    // null
	{Allow: true, Type: 'c', Major: 1, Minor: 5, Access: "rwm"},    // zero
	{Allow: true, Type: 'c', Major: 1, Minor: 7, Access: "rwm"},    // full
	{Allow: true, Type: 'c', Major: 1, Minor: 8, Access: "rwm"},    // random
	{Allow: true, Type: 'c', Major: 1, Minor: 9, Access: "rwm"},    // urandom
	{Allow: true, Type: 'c', Major: 5, Minor: 0, Access: "rwm"},    // tty
	{Allow: true, Type: 'c', Major: 5, Minor: 1, Access: "rwm"},    // console
	{Allow: true, Type: 'c', Major: 5, Minor: 2, Access: "rwm"},    // ptmx
	{Allow: true, Type: 'c', Major: 136, Minor: -1, Access: "rwm"}, // pts/*
	{Allow: true, Type: 'c', Major: 10, Minor: 200, Access: "rwm"}, // net/tun
}

// AllowAllDevices is the rule set of a privileged container.
var AllowAllDevices = []DeviceRule{{Allow: true, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}

// ParseDeviceCgroupRule parses a compose device_cgroup_rules entry
// ("c 13:* rwm", "a *:* r", "b 8:0 m").
func ParseDeviceCgroupRule(s string) (DeviceRule, error) {
	bad := func(why string) (DeviceRule, error) {
		return DeviceRule{}, fmt.Errorf("device_cgroup_rules: %q: %s (want \"c|b|a major|*:minor|* [rwm]\"): %w", s, why, errdefs.ErrInvalidArgument)
	}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return bad("wrong number of fields")
	}
	if len(f[0]) != 1 || !strings.Contains("abc", f[0]) {
		return bad("type must be a, b or c")
	}
	r := DeviceRule{Allow: true, Type: rune(f[0][0]), Access: "rwm"}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("missing major:minor")
	}
	var err error
	if r.Major, err = parseDevNum(maj); err != nil {
		return bad("bad major")
	}
	if r.Minor, err = parseDevNum(min); err != nil {
		return bad("bad minor")
	}
	if len(f) == 3 {
		r.Access = f[2]
		if r.Access == "" || strings.Trim(r.Access, "rwm") != "" {
			return bad("access must be made of r, w and m")
		}
	}
	return r, nil
}

func parseDevNum(s string) (int64, error) {
	if s == "*" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

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
		if strings.Trim(perms, "rwm") != "" {
			return nil, nil, fmt.Errorf("devices: %s: permissions %q must be made of r, w and m: %w", m.PathOnHost, perms, errdefs.ErrInvalidArgument)
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
