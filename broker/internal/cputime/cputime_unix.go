//go:build unix

// Package cputime reads the CPU time the process has used, so benchmarks can
// report work per CPU-second (what "per core" goals mean) rather than per
// wall-clock second on a shared machine.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user + system) used by the process so far.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
