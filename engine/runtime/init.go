package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Descriptors the init inherits (see the package comment).
const (
	configFD  = 3
	notifyFD  = 4
	consoleFD = 5
)

// Init is the container init (`berth __init`): it reads its Config from fd
// 3, sets the container up and execs the user's process. It never returns:
// on failure it writes the error on fd 4 and exits with the code docker
// would record (127 not found, 126 not executable, 128 otherwise).
func Init() {
	// Per-thread state (capabilities, seccomp, no_new_privs, namespaces
	// joined with setns) must be set on the thread that execs.
	goruntime.GOMAXPROCS(1)
	goruntime.LockOSThread()
	// Until execve resets it, nothing in the container may ptrace us or
	// open /proc/1/exe (the host's berth binary).
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	if name, err := unix.BytePtrFromString("berth-init"); err == nil {
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}

	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("init panic: %v", r)
			}
		}()
		cfg, err := readConfig()
		if err != nil {
			return err
		}
		return runInit(cfg)
	}()
	code := 128
	var ce *codedError
	if errors.As(err, &ce) {
		code = ce.code
	}
	if err == nil {
		err = errors.New("init returned without starting the process")
	}
	msg, _ := json.Marshal(initReport{Error: err.Error(), Code: code})
	if _, werr := unix.Write(notifyFD, msg); werr != nil {
		fmt.Fprintln(os.Stderr, "berth-init:", err)
	}
	os.Exit(code)
}

// codedError carries the exit code docker records for a start failure.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func readConfig() (*Config, error) {
	f := os.NewFile(configFD, "config")
	defer f.Close()
	var cfg Config
	if err := json.NewDecoder(f).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("read init config: %w", err)
	}
	return &cfg, nil
}

// runInit does the container setup in runc's order and execs (or, with
// cfg.Init, becomes the minimal init). It returns only on error.
func runInit(cfg *Config) error {
	unix.CloseOnExec(notifyFD)
	unix.Umask(0o022)
	if err := setupRootfs(cfg); err != nil {
		return err
	}
	if err := finishRootfs(cfg); err != nil {
		return err
	}
	if cfg.Namespaces.NewUTS {
		if cfg.Hostname != "" {
			if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
				return fmt.Errorf("set hostname %q: %w", cfg.Hostname, err)
			}
		}
		if cfg.Domainname != "" {
			if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
				return fmt.Errorf("set domainname %q: %w", cfg.Domainname, err)
			}
		}
	}
	if err := setRlimits(cfg.Rlimits); err != nil {
		return err
	}
	if cfg.OomScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", fmt.Appendf(nil, "%d", *cfg.OomScoreAdj), 0); err != nil {
			return fmt.Errorf("set oom_score_adj %d: %w", *cfg.OomScoreAdj, err)
		}
	}
	cred, err := resolveCred(cfg)
	if err != nil {
		return err
	}
	if cfg.Tty {
		if err := setupConsole(int(cred.uid), cfg.ConsoleRows, cfg.ConsoleCols); err != nil {
			return err
		}
	}
	env := withHome(cfg.Env, cred.home)
	// Every inherited descriptor but stdio must be gone after execve.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}

	// runc's order: without no_new_privs the filter is loaded while we
	// still have CAP_SYS_ADMIN; with it, as late as possible.
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	} else if err := loadSeccomp(cfg.Seccomp); err != nil {
		return err
	}
	caps, err := newCapSet(cfg.Capabilities)
	if err != nil {
		return err
	}
	if err := caps.applyBounding(); err != nil {
		return err
	}
	// With cfg.Init the process lives on (the reaper): all its threads
	// change; else this thread execs and the others end with it.
	if err := cred.apply(cfg.Init); err != nil {
		return err
	}
	if err := caps.apply(); err != nil {
		return err
	}
	if cfg.Cwd != "" {
		if err := unix.Chdir(cfg.Cwd); err != nil {
			return &codedError{126, fmt.Errorf("chdir to working directory %q: %w", cfg.Cwd, err)}
		}
	}
	path, err := lookPath(cfg.Args, env)
	if err != nil {
		return err
	}
	if cfg.NoNewPrivs {
		if err := loadSeccomp(cfg.Seccomp); err != nil {
			return err
		}
	}
	if cfg.Init {
		return reaper(path, cfg.Args, env, cfg.Tty)
	}
	err = unix.Exec(path, cfg.Args, env)
	return execError(cfg.Args[0], err)
}

// execError turns an execve failure into docker's message and exit code.
func execError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &codedError{127, fmt.Errorf("exec: %q: %w", name, err)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.ENOEXEC),
		errors.Is(err, unix.EISDIR):
		return &codedError{126, fmt.Errorf("exec: %q: %w", name, err)}
	}
	return &codedError{128, fmt.Errorf("exec: %q: %w", name, err)}
}
