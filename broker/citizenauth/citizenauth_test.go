package citizenauth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokens(t *testing.T) {
	v, err := New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Mint("001090012345", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := v.Verify(tok); err != nil || n != "001090012345" {
		t.Fatal(n, err)
	}
	other, _ := New([]byte(strings.Repeat("x", 32)))
	expired, _ := v.Mint("001090012345", -time.Minute)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "001090012345", Issuer: Issuer, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "001090012345", Issuer: Issuer}).SignedString([]byte(strings.Repeat("k", 32)))
	for name, bad := range map[string]struct {
		v   *Verifier
		tok string
	}{"other key": {other, tok}, "expired": {v, expired}, "alg none": {v, noneTok}, "no expiry": {v, noExp}, "garbage": {v, "abc"}} {
		if _, err := bad.v.Verify(bad.tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := v.Mint("12345", time.Hour); err == nil {
		t.Error("minted for a malformed number")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}
