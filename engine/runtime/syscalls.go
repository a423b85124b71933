package runtime

import "sort"

//go:generate go run ./internal/gensyscalls

// syscallName is one entry of this architecture's syscall table
// (syscalls_<arch>.go, generated from elastic/go-seccomp-bpf's tables).
type syscallName struct {
	name string
	nr   int
}

// syscallNumber looks name up in the native table.
func syscallNumber(name string) (int, bool) {
	i := sort.Search(len(syscallsByName), func(i int) bool { return syscallsByName[i].name >= name })
	if i < len(syscallsByName) && syscallsByName[i].name == name {
		return syscallsByName[i].nr, true
	}
	return 0, false
}

// syscallNameOf is the reverse lookup, for error messages.
func syscallNameOf(nr int) string {
	for _, s := range syscallsByName {
		if s.nr == nr {
			return s.name
		}
	}
	return "?"
}
