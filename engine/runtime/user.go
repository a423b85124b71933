package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// DefaultPath is the PATH a process gets when its environment has none
// (docker's).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ResolveUser resolves spec ("user", "uid", "user:group", "uid:gid", "" for
// root) and groupAdd (names or ids) against the /etc/passwd and /etc/group
// of the root filesystem at rootfsDir, both resolved inside it (a symlink in
// the image cannot make berth read a host file). gids are the supplementary
// groups as docker sets them: the primary group, the groups /etc/group
// lists a named user in, then groupAdd. home is the user's home directory
// ("/" when unknown). A name that is not found is an error that names it;
// a number that is not found is used as is.
//
// The init calls it with rootfsDir "/" after pivot_root, and Exec after
// entering the container's mount namespace: the engine never needs the
// container's root filesystem mounted on the host.
func ResolveUser(rootfsDir, spec string, groupAdd []string) (uid, gid uint32, gids []uint32, home string, err error) {
	passwd, err := securejoin.SecureJoin(rootfsDir, "/etc/passwd")
	if err != nil {
		return 0, 0, nil, "", err
	}
	group, err := securejoin.SecureJoin(rootfsDir, "/etc/group")
	if err != nil {
		return 0, 0, nil, "", err
	}
	eu, err := user.GetExecUserPath(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("%w (user %q)", err, spec)
	}
	// The primary group is a supplementary group too, as docker sets it
	// (moby's fix for GHSA-rc4r-wh2q-q6c4).
	gids = []uint32{uint32(eu.Gid)}
	for _, g := range eu.Sgids {
		gids = appendUnique(gids, uint32(g))
	}
	if len(groupAdd) > 0 {
		var r io.Reader
		if f, err := os.Open(group); err == nil {
			defer f.Close()
			r = f
		}
		added, err := user.GetAdditionalGroups(groupAdd, r)
		if err != nil {
			return 0, 0, nil, "", fmt.Errorf("group_add %v: %w", groupAdd, err)
		}
		for _, g := range added {
			gids = appendUnique(gids, uint32(g))
		}
	}
	home = eu.Home
	if home == "" {
		home = "/"
	}
	return uint32(eu.Uid), uint32(eu.Gid), gids, home, nil
}

func appendUnique(s []uint32, v uint32) []uint32 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// cred is the identity the user's process runs with.
type cred struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

func resolveCred(cfg *Config) (*cred, error) {
	c := &cred{uid: cfg.UID, gid: cfg.GID, home: "/"}
	spec := cfg.User
	if spec == "" {
		spec = fmt.Sprintf("%d:%d", cfg.UID, cfg.GID)
		if cfg.UID == 0 && cfg.GID == 0 {
			spec = "" // root, with root's home from the image
		}
	}
	uid, gid, gids, home, err := ResolveUser("/", spec, cfg.GroupAdd)
	if err != nil {
		return nil, err
	}
	c.uid, c.gid, c.home = uid, gid, home
	c.groups = gids
	for _, g := range cfg.AdditionalGids {
		c.groups = appendUnique(c.groups, g)
	}
	return c, nil
}

// apply switches to c, keeping the calling thread's permitted
// capabilities so that the capability set can be applied afterwards.
// allThreads changes the ids of every thread of the process (Go's syscall
// package does that by stopping each one with a signal: ~7% of the CPU of
// a 35-container start); without it only the calling thread changes, which
// is all it takes when that thread execs next (execve ends the others).
func (c *cred) apply(allThreads bool) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if allThreads {
		groups := make([]int, len(c.groups))
		for i, g := range c.groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("set groups %v: %w", c.groups, err)
		}
		if err := syscall.Setgid(int(c.gid)); err != nil {
			return fmt.Errorf("set gid %d: %w", c.gid, err)
		}
		if err := syscall.Setuid(int(c.uid)); err != nil {
			return fmt.Errorf("set uid %d: %w", c.uid, err)
		}
	} else if err := c.applyThread(); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

// applyThread sets the calling thread's groups, gid and uid (the raw
// system calls: the kernel's credentials are per thread; gid_t is 32-bit
// on amd64 and arm64, the architectures the runtime is built for).
func (c *cred) applyThread() error {
	var groups unsafe.Pointer
	if len(c.groups) > 0 {
		groups = unsafe.Pointer(&c.groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(c.groups)), uintptr(groups), 0); e != 0 {
		return fmt.Errorf("set groups %v: %w", c.groups, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGID, uintptr(c.gid), 0, 0); e != 0 {
		return fmt.Errorf("set gid %d: %w", c.gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETUID, uintptr(c.uid), 0, 0); e != 0 {
		return fmt.Errorf("set uid %d: %w", c.uid, e)
	}
	return nil
}

// withHome adds HOME (the user's home) when env has none, as docker does.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "HOME="+home)
}

func getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// lookPath finds argv[0] in the container (the caller has pivoted or
// entered its mount namespace) with the process's PATH, the way docker
// reports it: 127 when not found, 126 when not executable.
func lookPath(args, env []string) (string, error) {
	if len(args) == 0 || args[0] == "" {
		return "", &codedError{127, errors.New("no command specified")}
	}
	name := args[0]
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", execError(name, err)
		}
		return name, nil
	}
	p, ok := getenv(env, "PATH")
	if !ok {
		p = DefaultPath
	}
	var denied error
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		full := path.Join(dir, name)
		err := checkExecutable(full)
		if err == nil {
			return full, nil
		}
		if denied == nil && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EISDIR)) {
			denied = err
		}
	}
	if denied != nil {
		return "", execError(name, denied)
	}
	return "", &codedError{127, fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)}
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return unix.EISDIR
	}
	if fi.Mode()&0o111 == 0 {
		return unix.EACCES
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return err
	}
	return nil
}
