package monitor

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// trimMemory gives back what the monitor needed only to start: the heap
// freed since (debug.FreeOSMemory) and its mappings of the berth binary's
// pages that start-up touched — the whole CLI's package initialisation.
// The pages stay in the page cache (shared with every berth process) and
// are mapped again on the next access, so a monitor's resident set comes
// down to its steady-state working set.
func trimMemory() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != exe || strings.Contains(f[1], "w") {
			continue // only the binary's read-only (text and rodata) mappings
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// Read-only private file pages: dropping them loses nothing, the
		// next access maps the file's page again.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

// Trimming: once the start is over, then now and then (a monitor is idle
// most of its life; what it touched meanwhile goes back). The first trim
// (a full collection and an madvise of the binary's pages) waits until a
// large `up` is likely over: at 1 s it took ~4% of the CPU of a 200-service
// start, competing with the containers still starting.
const (
	trimFirst = 10 * time.Second
	trimEvery = 30 * time.Second
)

// trimLoop trims the monitor's memory after the start and periodically,
// until the monitor exits.
func (m *monitor) trimLoop() {
	defer m.recoverLog("trim")
	t := time.NewTimer(trimFirst)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			trimMemory()
			t.Reset(trimEvery)
		case <-m.done:
			return
		}
	}
}
