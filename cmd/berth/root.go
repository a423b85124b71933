package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every compose command takes, as docker compose's.
type globalOptions struct {
	Files            []string
	ProjectName      string
	ProjectDirectory string
	EnvFiles         []string
	Profiles         []string
	Parallel         int
	Progress         string
	Ansi             string
	DryRun           bool
	// Root is berth's state directory (--root, BERTH_ROOT, default /var/lib/berth).
	Root string
	// NoColor is set by NO_COLOR: print no colours (progress mode unchanged).
	NoColor bool
	// version is the hidden -v/--version flag of docker compose.
	version bool
}

// cli carries the global options and the process's streams to every command.
// It is built once per run; nothing is global.
type cli struct {
	opts   globalOptions
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// environ is the environment commands see; nil = the process's. Tests
	// set it to run commands in-process under an environment of their own.
	environ map[string]string
	// workingDir stands for the current directory; "" = the process's.
	workingDir string
}

// exitError carries a specific exit status (e.g. `run`'s command's code).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// run executes the CLI with args and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	return c.execute(ctx, args)
}

// execute runs one command line with c's streams, environment and
// directory, prints the error if any, and returns the exit status: 0, the
// status an exitError carries, else 1 (as docker compose).
func (c *cli) execute(ctx context.Context, args []string) int {
	root := c.newRootCommand()
	root.SetArgs(args)
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		ue.print(c.stderr)
		return 1
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(c.stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(c.stderr, err)
	return 1
}

// getenv reads the environment commands see (c.environ, else the
// process's).
func (c *cli) getenv(key string) (string, bool) {
	if c.environ != nil {
		v, ok := c.environ[key]
		return v, ok
	}
	return os.LookupEnv(key)
}

func (c *cli) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND",
		Short:         "Run compose stacks with no daemon and no Docker",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Like docker compose, an unknown command is an error, not help.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.opts.version {
				return c.runVersion(versionOptions{})
			}
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return c.validateGlobalFlags(cmd)
		},
	}
	// The project flags (-f, -p, --project-directory, --env-file,
	// --profile) are the root's own, read before the subcommand as in
	// docker compose (TraverseChildren): subcommands keep -f and -p for
	// their own use (logs -f, rm -f, run -p), which persistent flags would
	// forbid.
	root.TraverseChildren = true
	pf := root.Flags()
	pf.StringArrayVarP(&c.opts.Files, "file", "f", nil, "Compose configuration files")
	pf.StringVarP(&c.opts.ProjectName, "project-name", "p", "", "Project name")
	pf.StringVar(&c.opts.ProjectDirectory, "project-directory", "", "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)")
	pf.StringArrayVar(&c.opts.EnvFiles, "env-file", nil, "Specify an alternate environment file")
	pf.StringArrayVar(&c.opts.Profiles, "profile", nil, "Specify a profile to enable")
	f := root.PersistentFlags()
	f.IntVar(&c.opts.Parallel, "parallel", -1, "Control max parallelism, -1 for unlimited")
	f.StringVar(&c.opts.Progress, "progress", "auto", `Set type of progress output ("auto", "tty", "plain", "json", "quiet")`)
	f.StringVar(&c.opts.Ansi, "ansi", "auto", `Control when to print ANSI control characters ("never"|"always"|"auto")`)
	f.BoolVar(&c.opts.DryRun, "dry-run", false, "Execute command in dry run mode")
	defRoot, _ := c.getenv("BERTH_ROOT")
	if defRoot == "" {
		defRoot = "/var/lib/berth"
	}
	f.StringVar(&c.opts.Root, "root", defRoot, "berth state directory (also BERTH_ROOT)")
	root.Flags().BoolVarP(&c.opts.version, "version", "v", false, "Show the berth version information")
	_ = root.Flags().MarkHidden("version")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, err: err}
	})
	c.registerGlobalCompletions(root)

	root.AddCommand(
		c.newUpCommand(),
		c.newDownCommand(),
		c.newPsCommand(),
		c.newLogsCommand(),
		c.newExecCommand(),
		c.newRunCommand(),
		c.newStartCommand(),
		c.newStopCommand(),
		c.newRestartCommand(),
		c.newKillCommand(),
		c.newPauseCommand(),
		c.newUnpauseCommand(),
		c.newRmCommand(),
		c.newCreateCommand(),
		c.newPullCommand(),
		c.newPushCommand(),
		c.newBuildCommand(),
		c.newImagesCommand(),
		c.newConfigCommand(),
		c.newLsCommand(),
		c.newTopCommand(),
		c.newPortCommand(),
		c.newWaitCommand(),
		c.newScaleCommand(),
		c.newAttachCommand(),
		c.newExportCommand(),
		c.newCommitCommand(),
		c.newEventsCommand(),
		c.newCpCommand(),
		c.newWatchCommand(),
		c.newStatsCommand(),
		c.newVolumesCommand(),
		c.newVersionCommand(),
		c.newImageCommand(),
		c.newVolumeCommand(),
		c.newNetworkCommand(),
		c.newContainerCommand(),
		c.newSystemCommand(),
	)
	for _, sub := range root.Commands() {
		decorate(sub)
	}
	root.DisableFlagsInUseLine = true
	root.SuggestionsMinimumDistance = 2
	return root
}
