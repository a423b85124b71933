// Package compose loads and normalises a Compose project the way Docker
// Compose v2.40.3 does, and names what berth creates for it.
//
// Loading is delegated to github.com/compose-spec/compose-go/v2 (v2.9.1, the
// version Docker Compose v2.40.3 is built on): file discovery (compose.yaml,
// compose.yml, docker-compose.y(a)ml, their override files, parent
// directories), COMPOSE_FILE, COMPOSE_PROJECT_NAME, COMPOSE_PROFILES,
// COMPOSE_ENV_FILES, the project's .env, interpolation, profiles, extends,
// include, merging of several files and the project-name rules all come
// from compose-go. This package only feeds it the same options, in the same
// order, as docker compose's command line does, with two differences that
// make it usable in-process: the environment and the working directory are
// explicit (LoadOptions.Environment, LoadOptions.WorkingDir) instead of the
// process's.
//
// The package knows nothing of the engine. It also provides the names and
// com.docker.compose.* labels of containers, networks and volumes, and the
// service config hash, all equal to docker compose's.
package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

// LoadOptions selects the project to load, as docker compose's global flags
// do. Every relative path is relative to WorkingDir.
type LoadOptions struct {
	// Files are the compose files (-f), merged in order. Empty: COMPOSE_FILE,
	// else compose.yaml & co. searched from the project directory (or
	// WorkingDir) upwards, with its override file. "-" reads standard input.
	Files []string
	// ProjectName (-p). Empty: COMPOSE_PROJECT_NAME, the top-level `name:`, or
	// the project directory's base name, normalised.
	ProjectName string
	// ProjectDirectory (--project-directory). Empty: the directory of the
	// first compose file.
	ProjectDirectory string
	// EnvFiles (--env-file), loaded in order. Empty: COMPOSE_ENV_FILES, else
	// the project directory's .env when present.
	EnvFiles []string
	// Profiles (--profile) to enable. Empty: COMPOSE_PROFILES.
	Profiles []string
	// Services restricts the project to these services and their
	// dependencies, enabling them even when their profile is not active.
	// Empty: every service enabled by the profiles.
	Services []string
	// WorkingDir stands for the process's current directory. "" = os.Getwd().
	WorkingDir string
	// Environment is the environment used for interpolation and COMPOSE_*
	// variables. nil = the process's environment. Note that compose-go
	// expands a leading "~" in paths with the process's HOME.
	Environment map[string]string
	// NoInterpolate leaves ${VAR} unexpanded (config --no-interpolate).
	NoInterpolate bool
	// NoNormalize skips normalisation (config --no-normalize).
	NoNormalize bool
	// NoResolvePaths leaves relative paths as written (config
	// --no-path-resolution).
	NoResolvePaths bool
	// NoConsistency skips the model consistency checks (config
	// --no-consistency).
	NoConsistency bool
	// SkipValidation skips the JSON-schema validation of the files (the
	// costliest step of a load, ~10 ms). Only for files known to be valid:
	// the CLI sets it when the same files and environment were validated
	// before (see Files).
	SkipValidation bool
	// NoResolveEnvironment keeps services' env_file unread (docker compose
	// does so for config --services, --volumes, …). false: env_file is read
	// into environment and discarded, as for every command that runs
	// containers.
	NoResolveEnvironment bool
	// AllResources keeps networks, volumes, secrets and configs no enabled
	// service uses (--all-resources). false: they are dropped.
	AllResources bool
}

// Load loads the project described by opts, with docker compose's defaults
// and precedence. The services carry docker compose's labels as
// CustomLabels (project, service, version, working dir, config files,
// oneoff=False, environment file). Errors are compose-go's, which name the
// file, key and service; a missing configuration file wraps
// errdefs.ErrNotFound.
func Load(ctx context.Context, opts LoadOptions) (*types.Project, error) {
	po, err := projectOptions(opts)
	if err != nil {
		return nil, err
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		if yerr := locateYAMLError(po.ConfigPaths, err); yerr != nil {
			return nil, yerr
		}
		return nil, err
	}
	if project.Name == "" {
		return nil, invalidf("project name can't be empty. Use `--project-name` to set a valid name")
	}
	project, err = project.WithServicesEnabled(opts.Services...)
	if err != nil {
		return nil, err
	}
	for name, s := range project.Services {
		s.CustomLabels = map[string]string{
			LabelProject:     project.Name,
			LabelService:     name,
			LabelVersion:     ComposeVersion,
			LabelWorkingDir:  project.WorkingDir,
			LabelConfigFiles: strings.Join(project.ComposeFiles, ","),
			LabelOneoff:      "False",
		}
		if envFiles := explicitEnvFiles(opts); len(envFiles) != 0 {
			s.CustomLabels[LabelEnvironmentFile] = strings.Join(envFiles, ",")
		}
		project.Services[name] = s
	}
	project, err = project.WithSelectedServices(opts.Services)
	if err != nil {
		return nil, err
	}
	if !opts.AllResources {
		project = project.WithoutUnnecessaryResources()
	}
	if !opts.NoResolveEnvironment {
		project, err = project.WithServicesEnvironmentResolved(true)
		if err != nil {
			return nil, err
		}
	}
	return project, nil
}

// LoadModel loads the merged compose model as a YAML tree, without binding
// it to compose-go's types (config --no-interpolate renders this).
func LoadModel(ctx context.Context, opts LoadOptions) (map[string]any, error) {
	po, err := projectOptions(opts)
	if err != nil {
		return nil, err
	}
	model, err := po.LoadModel(ctx)
	if err != nil {
		if yerr := locateYAMLError(po.ConfigPaths, err); yerr != nil {
			return nil, yerr
		}
		return nil, err
	}
	return model, nil
}

// projectOptions builds compose-go's options in the order docker compose's
// ProjectOptions.toProjectOptions uses, with the environment and the
// current directory taken from opts.
func projectOptions(opts LoadOptions) (*cli.ProjectOptions, error) {
	wd := opts.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	wd, err := filepath.Abs(wd)
	if err != nil {
		return nil, err
	}
	abs := func(p string) string {
		if p == "" || p == "-" || filepath.IsAbs(p) || strings.Contains(p, "://") {
			return p
		}
		return filepath.Join(wd, p)
	}

	env := types.Mapping{}
	if opts.Environment == nil {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	} else {
		for k, v := range opts.Environment {
			env[k] = v
		}
	}
	if _, ok := env["PWD"]; !ok {
		env["PWD"] = wd
	}

	files := make([]string, 0, len(opts.Files))
	for _, f := range opts.Files {
		files = append(files, abs(f))
	}
	envFiles := explicitEnvFiles(LoadOptions{EnvFiles: opts.EnvFiles, Environment: env, WorkingDir: wd})
	projectDir := abs(opts.ProjectDirectory)

	// docker compose first copies COMPOSE_* variables of the env files into
	// its process environment (setEnvWithDotEnv): they then win over values
	// set later by other env files.
	addComposeVarsFromEnvFiles(env, files, projectDir, wd, envFiles)

	// compose-go falls back to the process's current directory when neither
	// a project directory nor a file is given: use wd instead while the
	// defaults are looked up, then let the first file decide, as docker
	// compose does.
	tempWD := false
	setCwd := func(o *cli.ProjectOptions) error {
		if o.WorkingDir == "" && len(o.ConfigPaths) == 0 {
			o.WorkingDir, tempWD = wd, true
		}
		return nil
	}
	unsetCwd := func(o *cli.ProjectOptions) error {
		if tempWD {
			o.WorkingDir, tempWD = "", false
		}
		return nil
	}
	fns := []cli.ProjectOptionsFn{
		cli.WithInterpolation(!opts.NoInterpolate),
		cli.WithResolvedPaths(!opts.NoResolvePaths),
		cli.WithNormalization(!opts.NoNormalize),
		cli.WithConsistency(!opts.NoConsistency),
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = o.SkipValidation || opts.SkipValidation }),
		cli.WithDiscardEnvFile,
	}
	if opts.NoResolveEnvironment {
		fns = append(fns, cli.WithoutEnvironmentResolution)
	}
	fns = append(fns,
		cli.WithWorkingDirectory(projectDir),
		func(o *cli.ProjectOptions) error { o.Environment = env; return nil },
		setCwd,
		withEnvFiles(env, envFiles),
		cli.WithDotEnv,
		withConfigFileEnv(wd),
		cli.WithDefaultConfigPath,
		unsetCwd,
		setCwd,
		withEnvFiles(env, envFiles),
		cli.WithDotEnv,
		unsetCwd,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.ProjectName),
		func(o *cli.ProjectOptions) error {
			if len(o.ConfigPaths) == 0 {
				return fmt.Errorf("no configuration file provided: %w", errdefs.ErrNotFound)
			}
			return nil
		},
	)
	return cli.NewProjectOptions(files, fns...)
}

// explicitEnvFiles are the env files given by --env-file, else by
// COMPOSE_ENV_FILES (comma separated), made absolute against the working
// directory; nil when neither is set (the project's .env is then used).
func explicitEnvFiles(opts LoadOptions) []string {
	files := opts.EnvFiles
	if len(files) == 0 {
		v, ok := opts.Environment[composeEnvFiles]
		if opts.Environment == nil {
			v, ok = os.LookupEnv(composeEnvFiles)
		}
		if ok && v != "" {
			files = strings.FieldsFunc(v, func(r rune) bool { return r == ',' })
		}
	}
	out := make([]string, 0, len(files))
	for _, f := range files {
		if !filepath.IsAbs(f) {
			wd := opts.WorkingDir
			if wd == "" {
				wd, _ = os.Getwd()
			}
			f = filepath.Join(wd, f)
		}
		out = append(out, f)
	}
	return out
}

// composeEnvFiles is docker compose's default for --env-file.
const composeEnvFiles = "COMPOSE_ENV_FILES"

// withEnvFiles is cli.WithEnvFiles, honouring COMPOSE_DISABLE_ENV_FILE from
// env rather than from the process.
func withEnvFiles(env types.Mapping, files []string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(files) == 0 {
			if v, ok := env[consts.ComposeDisableDefaultEnvFile]; ok {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%s: %w", consts.ComposeDisableDefaultEnvFile, err)
				}
				if b {
					return nil
				}
			}
		}
		return cli.WithEnvFiles(files...)(o)
	}
}

// withConfigFileEnv is cli.WithConfigFileEnv with relative COMPOSE_FILE
// entries resolved against wd instead of the process's directory.
func withConfigFileEnv(wd string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(o.ConfigPaths) > 0 {
			return nil
		}
		f, ok := o.Environment[consts.ComposeFilePath]
		if !ok {
			return nil
		}
		sep := o.Environment[consts.ComposePathSeparator]
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		for _, p := range strings.Split(f, sep) {
			if p != "-" && !filepath.IsAbs(p) {
				p = filepath.Join(wd, p)
			}
			if p != "-" {
				if _, err := os.Stat(p); err != nil {
					return err
				}
			}
			o.ConfigPaths = append(o.ConfigPaths, p)
		}
		return nil
	}
}

// addComposeVarsFromEnvFiles adds to env the COMPOSE_* variables that the
// env files define and env does not, like docker compose's setEnvWithDotEnv.
// Errors are ignored there too: the real load reports them.
func addComposeVarsFromEnvFiles(env types.Mapping, files []string, projectDir, wd string, envFiles []string) {
	dir := projectDir
	if dir == "" {
		for _, f := range files {
			if f != "-" {
				dir = filepath.Dir(f)
				break
			}
		}
	}
	if dir == "" {
		dir = wd
	}
	o, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		func(o *cli.ProjectOptions) error { o.Environment = env.Clone(); return nil },
		withEnvFiles(env, envFiles),
	)
	if err != nil {
		return
	}
	vars, err := dotenv.GetEnvFromFile(env.Clone(), o.EnvFiles)
	if err != nil {
		return
	}
	for k, v := range vars {
		if _, ok := env[k]; !ok && strings.HasPrefix(k, "COMPOSE_") {
			env[k] = v
		}
	}
}

// NormalizeProjectName is compose-go's project-name normalisation
// (lower case, only [a-z0-9_-], starting with a letter or digit).
func NormalizeProjectName(name string) string { return loader.NormalizeProjectName(name) }
