//go:build !unix

package identity

import "time"

// cpuTime is not measured on this platform; the CPU-time metric is skipped.
func cpuTime() time.Duration { return 0 }
