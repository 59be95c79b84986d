//go:build !linux

package identity

// hugePages is advice to Linux only (see hugepages_linux.go).
func hugePages[T any](s []T) {}
