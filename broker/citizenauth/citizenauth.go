// Package citizenauth owns how a citizen proves who they are to the bus's
// "who looked at my data" view: a short-lived JWT (HS256) whose subject is
// the personal number, issued by the national e-ID sign-in that fronts the
// bus (VNeID in production; `lgsp citizen-token` in dev) with a key shared
// with the bus.
package citizenauth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the expected "iss" of citizen tokens.
const Issuer = "lgsp-citizen-id"

// Verifier checks tokens with the shared key.
type Verifier struct{ key []byte }

// New returns a verifier; the key must be at least 32 bytes.
func New(key []byte) (*Verifier, error) {
	if len(key) < 32 {
		return nil, errors.New("citizenauth: key must be at least 32 bytes")
	}
	return &Verifier{key: key}, nil
}

// Verify returns the personal number the token proves.
func (v *Verifier) Verify(token string) (string, error) {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired())
	if err != nil {
		return "", fmt.Errorf("citizenauth: %w", err)
	}
	if !personalNumber(claims.Subject) {
		return "", errors.New("citizenauth: token subject is not a 12-digit personal number")
	}
	return claims.Subject, nil
}

// Mint issues a token for number valid for ttl (the e-ID side's job; here
// for development and tests).
func (v *Verifier) Mint(number string, ttl time.Duration) (string, error) {
	if !personalNumber(number) {
		return "", errors.New("citizenauth: a personal number has 12 digits")
	}
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: number, Issuer: Issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))})
	return t.SignedString(v.key)
}

func personalNumber(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
