package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// stdDevices are the nodes every container's /dev has (runc's and docker's).
var stdDevices = []Device{
	{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, Mode: 0o666},
	{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, Mode: 0o666},
	{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, Mode: 0o666},
	{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, Mode: 0o666},
	{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, Mode: 0o666},
	{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, Mode: 0o666},
}

var stdDevLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
	{"pts/ptmx", "ptmx"},
	{"/proc/kcore", "core"},
}

// mountDev makes /dev a tmpfs with the standard nodes and symlinks, its own
// devpts instance, /dev/shm, /dev/mqueue and the configured devices.
func mountDev(root string, cfg *Config) error {
	dev, err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	if err != nil {
		return err
	}
	for _, d := range stdDevices {
		if err := mknod(filepath.Join(dev, path.Base(d.Path)), d); err != nil {
			return err
		}
	}
	for _, l := range stdDevLinks {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return fmt.Errorf("/dev/%s: %w", l[1], err)
		}
	}
	if err := mountIn(dev, "pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return err
	}
	shm := cfg.ShmSize
	if shm <= 0 {
		shm = DefaultShmSize
	}
	if err := mountIn(dev, "shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		fmt.Sprintf("mode=1777,size=%d", shm)); err != nil {
		return err
	}
	if err := mountIn(dev, "mqueue", "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	for _, d := range cfg.Devices {
		if !path.IsAbs(d.Path) {
			return fmt.Errorf("device %s: path in the container must be absolute", d.Path)
		}
		// Devices may go anywhere (usually /dev); they are created inside
		// the root like any mount point.
		p, err := securejoin.SecureJoin(root, d.Path)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		_ = os.Remove(p)
		if err := mknod(p, d); err != nil {
			return err
		}
	}
	return nil
}

func mountIn(dir, name, source, fstype string, flags uintptr, data string) error {
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := unix.Mount(source, p, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on /dev/%s: %w", fstype, name, err)
	}
	return nil
}

func mknod(p string, d Device) error {
	mode := d.Mode & 0o7777
	switch d.Type {
	case 'c', 'u':
		mode |= unix.S_IFCHR
	case 'b':
		mode |= unix.S_IFBLK
	case 'p':
		mode |= unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
	}
	if err := unix.Mknod(p, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("create device %s: %w", d.Path, err)
	}
	if err := unix.Chown(p, int(d.UID), int(d.GID)); err != nil {
		return fmt.Errorf("chown device %s: %w", d.Path, err)
	}
	return nil
}

// setupConsole allocates the container's terminal in its own devpts (after
// pivot_root, so /dev/ptmx is the container's), makes the slave the init's
// stdio and controlling terminal and sends the master to the parent.
func setupConsole(uid int, rows, cols uint16) error {
	master, slave, err := openPty()
	if err != nil {
		return fmt.Errorf("allocate the container's terminal: %w", err)
	}
	defer unix.Close(master)
	defer unix.Close(slave)
	// Sized before the process runs: the caller's first resize comes
	// through the monitor only after the start, and a program that reads
	// its size at once (stty size, a shell's prompt, an editor) saw 0x0.
	if rows > 0 && cols > 0 {
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			return fmt.Errorf("size the container's terminal: %w", err)
		}
	}
	// Owned by the process's user, as with a login (`tty`, `mesg`, ssh).
	if uid != 0 {
		_ = unix.Fchown(slave, uid, -1)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("terminal as stdio: %w", err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("terminal as controlling tty: %w", err)
	}
	// /dev/console is the terminal, as in docker run -t.
	if name, err := ptsName(master); err == nil {
		if f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDWR, 0o600); err == nil {
			_ = f.Close()
			_ = unix.Mount(name, "/dev/console", "", unix.MS_BIND, "")
		}
	}
	if err := sendFD(consoleFD, "pty-master", master); err != nil {
		return fmt.Errorf("send the terminal to the monitor: %w", err)
	}
	_ = unix.Close(consoleFD)
	return nil
}

// openPty opens /dev/ptmx (the devpts instance of the current mount
// namespace) and its slave through TIOCGPTPEER, so no path of another
// instance can be confused with it.
func openPty() (master, slave int, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER takes the open flags as its argument.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER,
		unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(master)
		return -1, -1, fmt.Errorf("open pty peer: %w", errno)
	}
	return master, int(r), nil
}

func ptsName(master int) (string, error) {
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}
