//go:build !unix

// Package cputime reads the CPU time the process has used, so benchmarks can
// report work per CPU-second (what "per core" goals mean) rather than per
// wall-clock second on a shared machine.
package cputime

import "time"

// Process is not measured on this platform: it returns 0, and callers skip
// their CPU-time metric.
func Process() time.Duration { return 0 }
