package console

import (
	"crypto/subtle"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

func constantEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
