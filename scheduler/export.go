package scheduler

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ExportOptions are export's: a service's container and where its tar
// stream goes.
type ExportOptions struct {
	Service string
	Index   int // replica number, 1 when 0
	Out     io.Writer
	// DryRun finds the container and writes nothing.
	DryRun bool
}

// Export writes the file system of a service's container (created,
// running or exited) to opts.Out as a tar stream, as docker compose
// export: the image's files with the container's changes. What is
// mounted in the container (volumes, binds, tmpfs, /proc, /sys, /dev) is
// not in it, as docker leaves it out; its mount points are, empty.
func (s *Service) Export(ctx context.Context, project string, opts ExportOptions) error {
	c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
	if err != nil {
		return err
	}
	s.events.emit(c.Name, Working, "Exporting", "")
	if opts.DryRun {
		s.events.emit(c.Name, Done, "Exported", "")
		return nil
	}
	err = s.engine.WithFilesystem(ctx, c.ID, func(root string) error {
		dir, err := os.Open(root)
		if err != nil {
			return err
		}
		defer dir.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
			return err
		}
		tw := tar.NewWriter(opts.Out)
		sink := &tarSink{w: tw}
		w := treeWalk{show: "/", oneDev: &st.Dev, put: func(rel string, hdr *tar.Header, r io.Reader) error {
			if rel == "" {
				return nil // the root itself has no entry, as in docker's
			}
			return sink.put(rel, hdr, r)
		}}
		if err := w.walk(dir, ".", ""); err != nil {
			return hideRoot(err, root)
		}
		return tw.Close()
	})
	if err != nil {
		return fmt.Errorf("export %s: %w", c.Name, err)
	}
	s.events.emit(c.Name, Done, "Exported", "")
	return nil
}
