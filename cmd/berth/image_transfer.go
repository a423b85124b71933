package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler"
)

type imagePullOptions struct {
	quiet    bool
	platform string
	allTags  bool
}

func (c *cli) newImagePullCommand() *cobra.Command {
	var o imagePullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImagePull(cmd.Context(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	f.BoolVarP(&o.allTags, "all-tags", "a", false, "Download all tagged images in the repository")
	return cmd
}

// runImagePull pulls one image as docker pull does: progress (a live view
// in a terminal, docker's "<layer>: <status>" lines otherwise), then the
// reference, all on standard output.
func (c *cli) runImagePull(ctx context.Context, o imagePullOptions, ref string) error {
	if o.allTags {
		return notImplemented("pull --all-tags is not supported: name the tags to pull")
	}
	norm, err := image.NormalizeRef(ref)
	if err != nil {
		return err
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	var progress func(image.Progress)
	var view display.Display
	res := image.FamiliarString(norm)
	switch {
	case o.quiet:
	case display.IsTerminal(c.stdout) && c.opts.Ansi != display.AnsiNever:
		view = display.NewPullView(c.stdout, "Pulling")
		view.Emit(scheduler.Event{Resource: res, State: scheduler.Working, Status: "Pulling", Time: time.Now()})
		progress = layerEvents(view, res)
	default:
		progress = dockerPullLines(c.stdout)
	}
	_, err = store.Pull(ctx, norm, image.PullOptions{Platform: o.platform, Progress: progress})
	if view != nil {
		if err != nil {
			view.Emit(scheduler.Event{Resource: res, State: scheduler.Error, Status: "Error", Time: time.Now()})
		} else {
			view.Emit(scheduler.Event{Resource: res, State: scheduler.Done, Status: "Pulled", Time: time.Now()})
		}
		view.Close()
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, norm)
	return nil
}

// dockerPullLines prints docker pull's non-terminal output: one line per
// layer status change, and the image messages.
func dockerPullLines(w io.Writer) func(image.Progress) {
	var mu sync.Mutex
	last := map[string]string{}
	return func(p image.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.ID == "" {
			fmt.Fprintln(w, p.Status)
			return
		}
		if last[p.ID] == p.Status {
			return
		}
		last[p.ID] = p.Status
		fmt.Fprintf(w, "%s: %s\n", p.ID, p.Status)
	}
}

func (c *cli) newImageLoadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Long:  "Load images from a `docker save` tarball or an OCI image layout archive (plain, gzip or zstd).",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = c.stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if f, ok := c.stdin.(*os.File); ok && display.IsTerminal(f) {
				return invalidArgument("requested load from stdin, but stdin is empty: use -i FILE or redirect a tarball")
			}
			store, err := c.images()
			if err != nil {
				return err
			}
			lines, err := store.Load(cmd.Context(), r)
			if err != nil {
				return err
			}
			if !quiet {
				for _, l := range lines {
					fmt.Fprintln(c.stdout, l)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (c *cli) newImageSaveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:               "save [OPTIONS] IMAGE [IMAGE...]",
		Short:             "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runImageSave(cmd.Context(), output, args)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// runImageSave writes the tarball to output (atomically: a temporary file
// renamed when complete) or to standard output, never to a terminal.
func (c *cli) runImageSave(ctx context.Context, output string, refs []string) error {
	store, err := c.images()
	if err != nil {
		return err
	}
	if output == "" {
		if display.IsTerminal(c.stdout) {
			return invalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return store.Save(ctx, refs, c.stdout)
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp*")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := store.Save(ctx, refs, f); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), abs)
}

type imageImportOptions struct {
	changes  []string
	message  string
	platform string
}

func (c *cli) newImageImportCommand() *cobra.Command {
	var o imageImportOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|-  [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresRangeOf(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			return c.runImageImport(cmd.Context(), o, args[0], ref)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// runImageImport makes an image from a root filesystem tarball and prints
// its ID, as docker import.
func (c *cli) runImageImport(ctx context.Context, o imageImportOptions, source, ref string) error {
	var r io.Reader = c.stdin
	if source != "-" {
		if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
			return notImplemented("import from a URL is not supported: download the tarball first")
		}
		f, err := os.Open(source)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	img, err := store.Import(ctx, r, image.ImportOptions{Ref: ref, Changes: o.changes, Message: o.message, Platform: o.platform})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, img.ID)
	return nil
}

// requiresRangeOf accepts between min and max arguments.
func requiresRangeOf(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return fmt.Errorf("%q requires at least %d and at most %d arguments", cmd.CommandPath(), min, max)
		}
		return nil
	}
}
