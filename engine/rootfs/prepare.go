package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/state"
)

// Prepare makes the writable layer of a container under dir and returns
// the mounts of its root filesystem, to be performed (by the container's
// init, in its mount namespace) on the root directory:
//
//   - overlay: lowerdir = the chain's snapshots (chainIDs are bottom→top),
//     upperdir = dir/upper, workdir = dir/work;
//   - copy fallback (no overlayfs, or a snapshot in FormatList): the merged
//     layers copied into dir/rootfs, bound with "rbind".
//
// Prepare is idempotent: calling it again for the same dir keeps the
// writable layer (a restarted container keeps its files).
func (s *Snapshotter) Prepare(ctx context.Context, dir string, chainIDs []string) ([]mount.Mount, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("container directory %q must be absolute: %w", dir, errdefs.ErrInvalidArgument)
	}
	if len(chainIDs) > maxLayers {
		return nil, fmt.Errorf("image has %d layers, overlayfs takes at most %d: flatten it (berth image save | berth image import): %w",
			len(chainIDs), maxLayers, errdefs.ErrInvalidArgument)
	}
	infos := make([]Info, len(chainIDs))
	overlay := s.OverlaySupported()
	for i, c := range chainIDs {
		info, err := s.Stat(c)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("layer %s of the image is not unpacked; pull the image again: %w", c, errdefs.ErrNotFound)
			}
			return nil, err
		}
		if info.Format != FormatOverlay {
			overlay = false
		}
		infos[i] = info
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	if !overlay {
		return s.prepareCopy(ctx, dir, infos)
	}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	lowers := make([]string, 0, len(infos)+1)
	for i := len(infos) - 1; i >= 0; i-- {
		lowers = append(lowers, infos[i].Path)
	}
	if len(lowers) == 0 {
		// An image with no layers: overlay still needs one lower.
		empty := filepath.Join(dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		lowers = append(lowers, empty)
	}
	opts := []string{
		"lowerdir=" + strings.Join(lowers, ":"),
		"upperdir=" + upper,
		"workdir=" + work,
	}
	if indexParamExists() {
		// Layers are shared by many containers: no inode index.
		opts = append(opts, "index=off")
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
}

// Cleanup removes what Prepare made under dir (the writable layer). The
// root filesystem must be unmounted (it is when the container's mount
// namespace is gone). Gone is success.
func (s *Snapshotter) Cleanup(ctx context.Context, dir string) error {
	for _, name := range []string{"upper", "work", "empty", "rootfs", "rootfs.tmp"} {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		if err := removeAll(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// OverlaySupported reports whether container roots are overlays here (the
// answer of a probe mount under Root, made once per boot); false means
// Prepare copies.
func (s *Snapshotter) OverlaySupported() bool {
	s.probeOnce.Do(func() {
		s.overlayOK, s.probeErr = s.cachedProbe()
		if s.probeErr != nil {
			s.log.Info("overlayfs unavailable: container root filesystems are copies", "root", s.root, "err", s.probeErr)
		}
	})
	return s.overlayOK
}

// probeFile keeps the probe's answer under Root, with the boot it holds for.
const probeFile = "overlay-probe"

// cachedProbe answers from the probe file when it was written in this
// boot, else probes and writes it. The probe's unmount waits for an RCU
// grace period, which took 0.36 s on a busy 2-core VM: every `up` paid it.
func (s *Snapshotter) cachedProbe() (bool, error) {
	if s.forceCopy {
		return s.probeOverlay()
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	boot = []byte(strings.TrimSpace(string(boot)))
	p := filepath.Join(s.root, probeFile)
	if len(boot) > 0 {
		if b, err := os.ReadFile(p); err == nil {
			id, answer, _ := strings.Cut(string(b), "\n")
			if id == string(boot) {
				if answer == "ok" {
					return true, nil
				}
				return false, errors.New(answer)
			}
		}
	}
	ok, err := s.probeOverlay()
	if len(boot) > 0 {
		answer := "ok"
		if err != nil {
			answer = err.Error()
		}
		// Not synced: a lost file only means probing again.
		if werr := state.WriteFile(p, []byte(string(boot)+"\n"+answer), 0o600, false); werr != nil {
			s.log.Warn("overlay probe: keep the answer", "path", p, "err", werr)
		}
	}
	return ok, err
}

func (s *Snapshotter) probeOverlay() (bool, error) {
	switch {
	case s.forceCopy:
		return false, errors.New("copy mode forced")
	case os.Geteuid() != 0:
		return false, errors.New("not root")
	case onOverlayfs(s.root):
		return false, fmt.Errorf("%s is on overlayfs", s.root)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "probe-")
	if err != nil {
		return false, err
	}
	defer removeAll(tmp)
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return false, err
		}
	}
	m := filepath.Join(tmp, "m")
	data := fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", tmp, tmp, tmp)
	if err := unix.Mount("overlay", m, "overlay", 0, data); err != nil {
		return false, fmt.Errorf("probe mount: %w", err)
	}
	if err := mount.Unmount(m); err != nil {
		s.log.Warn("overlay probe: unmount", "path", m, "err", err)
	}
	return true, nil
}

// indexParamExists reports whether the overlay module has the index
// parameter (the kernel then understands index=off).
func indexParamExists() bool {
	_, err := os.Stat("/sys/module/overlay/parameters/index")
	return err == nil
}

// prepareCopy builds dir/rootfs from the layers (once) and returns its bind.
func (s *Snapshotter) prepareCopy(ctx context.Context, dir string, infos []Info) ([]mount.Mount, error) {
	root := filepath.Join(dir, "rootfs")
	bind := []mount.Mount{{Type: "bind", Source: root, Options: []string{"rbind"}}}
	if _, err := os.Stat(root); err == nil {
		return bind, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp := root + ".tmp"
	if err := removeAll(tmp); err != nil {
		return nil, err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, err
	}
	for _, info := range infos {
		if err := copyLayer(ctx, tmp, info); err != nil {
			_ = removeAll(tmp)
			return nil, fmt.Errorf("copy layer %s into %s: %w", info.ChainID, root, err)
		}
	}
	if err := os.Rename(tmp, root); err != nil {
		_ = removeAll(tmp)
		return nil, err
	}
	return bind, nil
}
