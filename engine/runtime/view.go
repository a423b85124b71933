package runtime

import (
	"fmt"
)

// MountView assembles the filesystem of a container that is not running on
// cfg.RootfsDir, for a process other than its init (berth cp): the root
// filesystem, then the binds and named volumes of cfg.Mounts and the files
// of cfg.Files, each made and resolved inside the root as the init does
// (a first mount of an empty volume copies the image's content into it, as
// a start would). tmpfs mounts and volumes with a filesystem of their own
// are left out: what is written there would not outlive the container's
// next start anyway. A read-only root filesystem is remounted read-only,
// its volumes keep their own mode.
//
// The caller must be in a mount namespace of its own, made rprivate, so
// that nothing it mounts is seen elsewhere; MountView unmounts nothing on
// error (the namespace is thrown away).
func MountView(cfg Config) error {
	root := cfg.RootfsDir
	if err := mountRootLayers(root, cfg.Rootfs); err != nil {
		return err
	}
	var binds []Mount
	for _, m := range cfg.Mounts {
		if isBind(m.Type) {
			m.Propagation = "" // nothing to propagate to in a throwaway namespace
			binds = append(binds, m)
		}
	}
	if err := mountUser(root, binds, cfg.Files); err != nil {
		return err
	}
	if cfg.ReadonlyRootfs {
		if err := remountReadonly(root); err != nil {
			return fmt.Errorf("make the root filesystem read-only: %w", err)
		}
	}
	return nil
}
