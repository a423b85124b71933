package main

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/compose"
)

// newBuildCommand is `berth build` until berth has a builder: services
// with a build section whose image is present are reported as such, and a
// missing one fails with a message saying what to do instead.
func (c *cli) newBuildCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services (berth has no builder yet: checks that built images are present)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := c.loadProject(ctx, args)
			if err != nil {
				return err
			}
			store, err := c.images()
			if err != nil {
				return err
			}
			var missing []string
			for _, name := range p.ServiceNames() {
				svc := p.Services[name]
				if svc.Build == nil {
					continue
				}
				ref := compose.ImageName(p.Name, svc)
				_, err := store.Get(ctx, ref)
				switch {
				case err == nil:
					fmt.Fprintf(c.stderr, "service %q: image %s is present (berth does not build images yet; it uses this one)\n", name, ref)
				case errdefs.IsNotFound(err):
					missing = append(missing, name)
					fmt.Fprintf(c.stderr, "service %q: image %s is not built: berth does not build images yet; build it elsewhere and bring it in with `berth image load` or `berth image import`\n", name, ref)
				default:
					return err
				}
			}
			if len(missing) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	var b bool
	var s []string
	f.BoolVar(&b, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&b, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&b, "quiet", "q", false, "Don't print anything to STDOUT")
	f.StringArrayVar(&s, "build-arg", nil, "Set build-time variables for services")
	return cmd
}
