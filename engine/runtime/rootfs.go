package runtime

import (
	"errors"
	"fmt"
	"github.com/berthdev/berth/engine/mount"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// DefaultShmSize is /dev/shm's size when Config.ShmSize is 0 (docker's).
const DefaultShmSize = 64 << 20

// setupRootfs assembles the container's root filesystem on cfg.RootfsDir
// inside the init's private mount namespace, before pivot_root.
func setupRootfs(cfg *Config) error {
	// Nothing done here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / rprivate: %w", err)
	}
	root := cfg.RootfsDir
	if root == "" || !filepath.IsAbs(root) {
		return fmt.Errorf("rootfs directory %q: must be an absolute path", root)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("rootfs directory: %w", err)
	}
	if len(cfg.Rootfs) == 0 {
		// pivot_root needs a mount point.
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind rootfs %s: %w", root, err)
		}
	}
	if err := mountRootLayers(root, cfg.Rootfs); err != nil {
		return err
	}
	unix.Umask(0)
	defer unix.Umask(0o022)

	if err := mountProc(root); err != nil {
		return err
	}
	if err := mountDev(root, cfg); err != nil {
		return err
	}
	if err := mountSys(root, cfg.Privileged); err != nil {
		return err
	}
	if err := mountCgroupfs(root, cfg.Namespaces, cfg.Privileged); err != nil {
		return err
	}
	if err := mountUser(root, cfg.Mounts, cfg.Files); err != nil {
		return err
	}
	return nil
}

// mkdirIn makes the directory p (a container path) inside root, following
// symlinks as if root were "/", and returns its host path. Only for the
// standard mount points, set up before anything else can race with us.
func mkdirIn(root, p string) (string, error) {
	host, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return "", fmt.Errorf("resolve %s in rootfs: %w", p, err)
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return "", fmt.Errorf("create mount point %s: %w", p, err)
	}
	return host, nil
}

func mountAt(root, p, source, fstype string, flags uintptr, data string) (string, error) {
	target, err := mkdirIn(root, p)
	if err != nil {
		return "", err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return "", fmt.Errorf("mount %s on %s: %w", fstype, p, err)
	}
	return target, nil
}

func mountProc(root string) error {
	_, err := mountAt(root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	return err
}

func mountSys(root string, privileged bool) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if !privileged {
		flags |= unix.MS_RDONLY
	}
	target, err := mkdirIn(root, "/sys")
	if err != nil {
		return err
	}
	err = unix.Mount("sysfs", target, "sysfs", flags, "")
	if errors.Is(err, unix.EPERM) {
		// A network namespace we do not own (host network, rootless):
		// fall back to the host's /sys, as runc does.
		if err = unix.Mount("/sys", target, "", unix.MS_BIND|unix.MS_REC, ""); err == nil && flags&unix.MS_RDONLY != 0 {
			err = unix.Mount("", target, "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
		}
	}
	if err != nil {
		return fmt.Errorf("mount sysfs on /sys: %w", err)
	}
	return nil
}

// finishRootfs pivots into the root filesystem and does what is done from
// inside it: sysctls, read-only and masked paths, read-only root.
func finishRootfs(cfg *Config) error {
	if err := pivotRoot(cfg.RootfsDir); err != nil {
		return err
	}
	if cfg.Cwd != "" {
		// Created when missing, as docker does, before a read-only root.
		// After pivot_root every path resolves inside the container.
		if _, err := os.Stat(cfg.Cwd); err != nil {
			if err := os.MkdirAll(cfg.Cwd, 0o755); err != nil {
				return fmt.Errorf("create working directory %s: %w", cfg.Cwd, err)
			}
		}
	}
	if err := writeSysctls(cfg.Sysctls); err != nil {
		return err
	}
	if !cfg.Privileged {
		for _, p := range cfg.ReadonlyPaths {
			if err := readonlyPath(p); err != nil {
				return err
			}
		}
		for _, p := range cfg.MaskedPaths {
			if err := maskPath(p); err != nil {
				return err
			}
		}
	}
	if cfg.ReadonlyRootfs {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("make the root filesystem read-only: %w", err)
		}
	}
	return nil
}

// pivotRoot makes root the new "/" with runc's pivot_root(".", ".") trick,
// which needs no put_old directory, and detaches the old root.
func pivotRoot(root string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Detaching the old root must not propagate anywhere.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// readonlyPath bind-mounts p on itself read-only (docker's read-only paths).
func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("read-only path %s: %w", p, err)
	}
	if err := remountReadonly(p); err != nil {
		return fmt.Errorf("read-only path %s: %w", p, err)
	}
	return nil
}

// remountReadonly remounts the bind mount at p read-only, keeping the flags
// it has (a bind remount may not clear nosuid, nodev, noexec).
func remountReadonly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return err
	}
	flags := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", p, "", flags|unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

// maskPath hides p: /dev/null over a file, an empty read-only tmpfs over a
// directory (docker's masked paths). Missing paths are skipped.
func maskPath(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("masked path %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("masked path %s: %w", p, err)
	}
	return nil
}

// writeSysctls writes namespaced sysctls (validated by BuildConfig) into the
// container's /proc/sys before it is made read-only.
func writeSysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		if err := validSysctlName(k); err != nil {
			return err
		}
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// mountRootLayers mounts the root filesystem's mounts (the overlay or the
// copy's bind first, then any below it) on root.
func mountRootLayers(root string, layers []mount.Mount) error {
	for i, m := range layers {
		target := root
		if i > 0 {
			t, err := mkdirIn(root, m.Target)
			if err != nil {
				return err
			}
			target = t
		}
		if err := m.Mount(target); err != nil {
			return fmt.Errorf("mount the root filesystem: %w", err)
		}
	}
	return nil
}
