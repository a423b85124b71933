package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newCpCommand() *cobra.Command {
	var index int
	var archive, followLink, all bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
		Short: "Copy files/folders between a service container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := scheduler.CopyOptions{Index: index, All: all, Archive: archive, FollowLink: followLink,
				Stdin: c.stdin, Stdout: c.stdout}
			src, dst := args[0], args[1]
			if svc, p, ok := splitServicePath(src); ok {
				opts.Service, opts.ContainerPath, opts.HostPath, opts.FromContainer = svc, p, dst, true
			} else if svc, p, ok := splitServicePath(dst); ok {
				opts.Service, opts.ContainerPath, opts.HostPath = svc, p, src
			} else {
				return invalidArgument("copying between services is not supported; one of the paths must be SERVICE:PATH")
			}
			name, err := c.projectName(cmd.Context())
			if err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Copying")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Cp(cmd.Context(), name, opts)
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	f.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVar(&all, "all", false, "Include containers created by the run command")
	return cmd
}

// splitServicePath splits "service:path"; a path with a slash before the
// colon (./a:b) is a host path.
func splitServicePath(s string) (string, string, bool) {
	svc, p, ok := strings.Cut(s, ":")
	if !ok || svc == "" || strings.ContainsAny(svc, "/\\.") {
		return "", "", false
	}
	return svc, p, true
}
