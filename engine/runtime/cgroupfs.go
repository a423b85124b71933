package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountCgroupfs mounts the container's view of its cgroups on
// /sys/fs/cgroup, read-only unless privileged, as docker does: cgroup2 on a
// unified host; on a v1 (or hybrid) host a tmpfs with one cgroup mount per
// hierarchy and symlinks for co-mounted controllers ("cpu" -> "cpu,cpuacct").
// With a cgroup namespace of its own the mounts show the container's cgroup
// as their root, so tools and runtimes (JVM, Node) read its limits there.
// Without one (cgroup: host) nothing is mounted: sysfs's empty directory
// stays, rather than exposing the host's whole hierarchy.
func mountCgroupfs(root string, ns Namespaces, privileged bool) error {
	if !ns.NewCgroup {
		return nil
	}
	target := filepath.Join(root, "sys/fs/cgroup")
	if _, err := os.Stat(target); err != nil {
		return nil // no cgroup directory in this sysfs
	}
	ro := uintptr(0)
	if !privileged {
		ro = unix.MS_RDONLY
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	hier, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	if len(hier) == 0 {
		if err := unix.Mount("cgroup2", target, "cgroup2", flags|ro, ""); err != nil {
			return fmt.Errorf("mount cgroup2 on /sys/fs/cgroup: %w", err)
		}
		return nil
	}
	if err := unix.Mount("tmpfs", target, "tmpfs", flags, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on /sys/fs/cgroup: %w", err)
	}
	for _, h := range hier {
		dir := filepath.Join(target, h.dir)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("cgroup", dir, "cgroup", flags|ro, h.data); err != nil {
			return fmt.Errorf("mount cgroup %s on /sys/fs/cgroup/%s: %w", h.data, h.dir, err)
		}
		if strings.Contains(h.dir, ",") {
			for _, c := range strings.Split(h.dir, ",") {
				_ = os.Symlink(h.dir, filepath.Join(target, c))
			}
		}
	}
	if ro != 0 {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|flags|ro, "mode=755"); err != nil {
			return fmt.Errorf("remount /sys/fs/cgroup read-only: %w", err)
		}
	}
	return nil
}

type cgroupHierarchy struct {
	dir  string // "cpu,cpuacct", "systemd"
	data string // mount data: "cpu,cpuacct", "none,name=systemd"
}

// cgroupHierarchies lists the v1 hierarchies the init is in (from
// /proc/self/cgroup); none means a unified (v2-only) host.
func cgroupHierarchies() ([]cgroupHierarchy, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var out []cgroupHierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue // the v2 line "0::/…"
		}
		ctrl := parts[1]
		if name, ok := strings.CutPrefix(ctrl, "name="); ok {
			out = append(out, cgroupHierarchy{dir: name, data: "none,name=" + name})
			continue
		}
		out = append(out, cgroupHierarchy{dir: ctrl, data: ctrl})
	}
	return out, sc.Err()
}
