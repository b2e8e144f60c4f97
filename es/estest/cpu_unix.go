//go:build unix

package estest

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used: benchmarks
// report CPU per operation, which stays meaningful on a machine shared with
// other work, where wall-clock rates mostly measure the contention.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
