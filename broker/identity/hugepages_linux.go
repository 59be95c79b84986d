package identity

import (
	"syscall"
	"unsafe"
)

// hugePages asks the kernel to back the memory of s with huge pages (2 MB)
// where transparent huge pages are available on request (the usual
// "madvise" setting). A look-up in a table of tens of millions of slots
// then costs one cache miss instead of a cache miss and a page-table walk:
// with 4 KB pages the translation buffer covers a few MB of a table of GBs.
// It is advice: where refused, nothing changes.
func hugePages[T any](s []T) {
	var zero T
	n := uintptr(len(s)) * unsafe.Sizeof(zero)
	const huge = 2 << 20
	if n < 2*huge {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(p)
	lo := (start + huge - 1) &^ (huge - 1)
	hi := (start + n) &^ (huge - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo), syscall.MADV_HUGEPAGE)
}
