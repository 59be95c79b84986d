// Package kafkaauth owns who may do what on the bus's Kafka: the SASL/SCRAM
// credentials the bus issues to agencies and sources, and the ACLs that let
// a consumer agency read only its own delivery topics and a source write
// only its own ingest topics.
//
// The pieces:
//
//   - [Store] keeps the credentials in one file under the data dir (mode
//     0600). The bus's own superuser password is kept in clear, because the
//     bus must log in with it; an agency's password is shown once, when it
//     is issued or rotated, and only its SCRAM-SHA-512 salted hash is kept.
//   - [Principals] derives the Kafka users and their ACLs from the agency
//     registry, the stream agreements and the list of sources.
//   - [Store.Config] joins the two into a [Config]: what the broker must
//     hold.
//   - [Apply] makes a Kafka cluster hold exactly that, through the ordinary
//     admin requests (AlterUserScramCredentials, Describe/Create/DeleteAcls),
//     so the same code serves the embedded dev broker (broker/devkafka) and
//     a production cluster.
package kafkaauth

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
)

// Mechanism is the SASL mechanism of every credential the bus issues.
const Mechanism = "SCRAM-SHA-512"

// Iterations is the PBKDF2 iteration count of issued SCRAM credentials.
// Kafka accepts 4096 to 16384, but kfake always announces 4096 to clients
// whatever the stored count (sasl.go scramServerFirst), so a credential
// derived with more iterations could never log in to the dev broker.
const Iterations = 4096

// DefaultBusUser is the name of the bus's own superuser.
const DefaultBusUser = "lgsp-bus"

// FileName is the credentials file inside the data dir given to [OpenStore].
const FileName = "kafka-credentials.json"

// Credential is a user name and its clear password.
type Credential struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// Secret is the stored form of an issued credential: the SCRAM-SHA-512 salt
// and salted password (PBKDF2 of the password), which is what a Kafka broker
// stores too. It is not the password, but it lets its holder log in over
// SCRAM, so the file stays readable by its owner only.
type Secret struct {
	Iterations     int       `json:"iterations"`
	Salt           []byte    `json:"salt"`
	SaltedPassword []byte    `json:"salted_password"`
	IssuedAt       time.Time `json:"issued_at"`
	// RevokedAt is set once the credential is revoked: the user is deleted
	// from the broker at the next [Apply], and issuing again makes a new
	// password.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Revoked reports whether the credential was revoked.
func (s Secret) Revoked() bool { return s.RevokedAt != nil }

type fileData struct {
	Version   int               `json:"version"`
	Mechanism string            `json:"mechanism"`
	Bus       Credential        `json:"bus"`
	Users     map[string]Secret `json:"users"`
}

// Store is the credentials document: a file in the data dir, or one
// document in the shared store when several bus instances run as one
// ([OpenShared]). It is safe for concurrent use.
type Store struct {
	path string
	mu   sync.Mutex
	data fileData
	now  func() time.Time
	// shared, when set, holds the document every instance reads and
	// writes; version is the one data was read at (-1: read again).
	shared  SharedDocs
	version int64
}

// SharedDocs keeps named documents that every bus instance sees, written
// with compare-and-swap on a version (store.SharedDocStore).
type SharedDocs interface {
	// SharedDoc returns a document and its version; version 0: none yet.
	SharedDoc(ctx context.Context, name string) ([]byte, int64, error)
	// PutSharedDoc writes a document read at version (0: a new one);
	// store.ErrStale when another writer came first.
	PutSharedDoc(ctx context.Context, name string, doc []byte, version int64) error
}

// SharedDocName is the name of the credentials document in the store.
const SharedDocName = "kafka-credentials"

// OpenShared opens the credentials document kept in the shared store, so
// that a credential issued, rotated or revoked through any instance holds
// on all of them. The first instance creates it, importing the credentials
// file of its data dir when there is one (the single-instance form).
func OpenShared(dataDir string, docs SharedDocs) (*Store, error) {
	s := &Store{path: filepath.Join(dataDir, FileName), now: time.Now, shared: docs, version: -1}
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		raw, v, err := docs.SharedDoc(ctx, SharedDocName)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("kafkaauth: read the Kafka credentials from the store (retry): %w", err)
		}
		if v > 0 {
			if err := s.decode(raw, "the store's "+SharedDocName+" document"); err != nil {
				return nil, err
			}
			s.version = v
			return s, nil
		}
		if dataDir != "" {
			if _, err := os.Stat(s.path); err == nil {
				file, err := OpenStore(dataDir)
				if err != nil {
					return nil, err
				}
				s.data = file.data
			}
		}
		if s.data.Version == 0 {
			pass, err := newPassword()
			if err != nil {
				return nil, err
			}
			s.data = fileData{Version: 1, Mechanism: Mechanism, Bus: Credential{User: DefaultBusUser, Password: pass}, Users: map[string]Secret{}}
		}
		s.version = 0
		err = s.save()
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, store.ErrStale) {
			return nil, err
		}
		s.data = fileData{} // another instance created it first: read theirs
	}
	return nil, errors.New("kafkaauth: the Kafka credentials document keeps changing under this instance; retry")
}

// refresh reads the shared document again when another instance changed
// it. Callers hold s.mu.
func (s *Store) refresh() error {
	if s.shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, v, err := s.shared.SharedDoc(ctx, SharedDocName)
	if err != nil {
		return fmt.Errorf("kafkaauth: read the Kafka credentials from the store (retry): %w", err)
	}
	if v == s.version {
		return nil
	}
	if err := s.decode(raw, "the store's "+SharedDocName+" document"); err != nil {
		return err
	}
	s.version = v
	return nil
}

// change applies f to fresh data and saves it, again on fresh data when
// another instance wrote in between. f reports whether it changed
// anything. Callers hold s.mu.
func (s *Store) change(f func() (bool, error)) error {
	for range 10 {
		if err := s.refresh(); err != nil {
			return err
		}
		changed, err := f()
		if err != nil || !changed {
			return err
		}
		err = s.save()
		if s.shared != nil && err != nil {
			s.version = -1 // what is in memory was not written: read it again
		}
		if !errors.Is(err, store.ErrStale) {
			return err
		}
	}
	return errors.New("kafkaauth: the Kafka credentials document keeps changing under this instance; retry")
}

// decode replaces data with a credentials document and checks it.
func (s *Store) decode(raw []byte, what string) error {
	var d fileData
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("kafkaauth: %s is not a valid credentials file (%v); restore it from a backup, or move it away to issue new credentials to every agency", what, err)
	}
	if d.Version != 1 || d.Mechanism != Mechanism || d.Bus.User == "" || d.Bus.Password == "" {
		return fmt.Errorf("kafkaauth: %s: unsupported version %d / mechanism %q or no bus credential; restore it from a backup, or move it away to issue new credentials", what, d.Version, d.Mechanism)
	}
	if d.Users == nil {
		d.Users = map[string]Secret{}
	}
	s.data = d
	return nil
}

// OpenStore opens the credentials file in dataDir, creating it (mode 0600)
// with a fresh bus superuser password when it does not exist yet. Reopening
// the same dir returns the same credentials.
func OpenStore(dataDir string) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("kafkaauth: a data dir is required to keep the Kafka credentials")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("kafkaauth: create data dir: %w", err)
	}
	s := &Store{path: filepath.Join(dataDir, FileName), now: time.Now}
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pass, err := newPassword()
		if err != nil {
			return nil, err
		}
		s.data = fileData{Version: 1, Mechanism: Mechanism, Bus: Credential{User: DefaultBusUser, Password: pass}, Users: map[string]Secret{}}
		if err := s.save(); err != nil {
			return nil, err
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("kafkaauth: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("kafkaauth: %s is readable by other users (mode %04o); it holds the bus's Kafka password: run `chmod 600 %s` and restart", s.path, perm, s.path)
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("kafkaauth: %w", err)
	}
	if err := s.decode(raw, s.path); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the credentials file.
func (s *Store) Path() string { return s.path }

// Bus is the bus's own superuser credential.
func (s *Store) Bus() Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.Bus
}

// Secret returns the stored credential of user.
func (s *Store) Secret(user string) (Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.refresh() // unreachable store: answer from what was read last
	sec, ok := s.data.Users[user]
	return sec, ok
}

// Users lists every user the store knows, revoked ones included, sorted.
func (s *Store) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.refresh() // unreachable store: answer from what was read last
	out := make([]string, 0, len(s.data.Users))
	for u := range s.data.Users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Issue gives a password to each user that has none (or whose credential
// was revoked) and returns the new passwords by user. This is the only time
// a password is visible: hand it to the agency; the store keeps its hash.
// Users that already hold a credential keep it and are not in the result.
func (s *Store) Issue(users ...string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var issued map[string]string
	err := s.change(func() (bool, error) {
		issued = map[string]string{}
		for _, u := range users {
			if u == s.data.Bus.User {
				return false, fmt.Errorf("kafkaauth: %q is the bus's own user and cannot be issued to an agency; rename the agency or source", u)
			}
			if sec, ok := s.data.Users[u]; ok && !sec.Revoked() {
				continue
			}
			pass, sec, err := s.newSecret()
			if err != nil {
				return false, err
			}
			s.data.Users[u] = sec
			issued[u] = pass
		}
		return len(issued) > 0, nil
	})
	if err != nil {
		return nil, err
	}
	return issued, nil
}

// Rotate replaces the password of user (issuing one if it has none) and
// returns the new one. The old password stops working at the next [Apply].
func (s *Store) Rotate(user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if user == "" || user == s.data.Bus.User {
		return "", fmt.Errorf("kafkaauth: cannot rotate %q: name an agency or source user", user)
	}
	var pass string
	err := s.change(func() (bool, error) {
		p, sec, err := s.newSecret()
		if err != nil {
			return false, err
		}
		s.data.Users[user], pass = sec, p
		return true, nil
	})
	return pass, err
}

// Revoke marks the credential of user revoked: the next [Apply] deletes the
// user from the broker, so it can no longer log in.
func (s *Store) Revoke(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.change(func() (bool, error) {
		sec, ok := s.data.Users[user]
		if !ok {
			return false, fmt.Errorf("kafkaauth: no credential for %q: none was ever issued to that user", user)
		}
		if sec.Revoked() {
			return false, nil
		}
		now := s.now().UTC()
		sec.RevokedAt = &now
		s.data.Users[user] = sec
		return true, nil
	})
}

func (s *Store) newSecret() (string, Secret, error) {
	pass, err := newPassword()
	if err != nil {
		return "", Secret{}, err
	}
	sec, err := NewSecret(pass, s.now().UTC())
	return pass, sec, err
}

// NewSecret derives the SCRAM-SHA-512 credential of a password with a fresh
// random salt.
func NewSecret(password string, issued time.Time) (Secret, error) {
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return Secret{}, fmt.Errorf("kafkaauth: salt: %w", err)
	}
	salted, err := SaltedPassword(password, salt, Iterations)
	if err != nil {
		return Secret{}, err
	}
	return Secret{Iterations: Iterations, Salt: salt, SaltedPassword: salted, IssuedAt: issued}, nil
}

// SaltedPassword is SCRAM's SaltedPassword for SHA-512: PBKDF2-HMAC-SHA-512
// of the password (RFC 5802 section 3; the bus's passwords are ASCII, which
// SASLprep leaves as is).
func SaltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	k, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return nil, fmt.Errorf("kafkaauth: derive SCRAM credential: %w", err)
	}
	return k, nil
}

// newPassword returns 26 characters from crypto/rand (130 bits, base32
// letters and digits, safe in any client config file).
func newPassword() (string, error) { return rand.Text(), nil }

// save writes the document: to the shared store at the version it was
// read at, or the file atomically with mode 0600. Callers hold s.mu.
func (s *Store) save() error {
	raw, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("kafkaauth: encode credentials: %w", err)
	}
	if s.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.shared.PutSharedDoc(ctx, SharedDocName, raw, s.version); err != nil {
			if errors.Is(err, store.ErrStale) {
				return err
			}
			return fmt.Errorf("kafkaauth: save the Kafka credentials in the store (retry): %w", err)
		}
		s.version++
		return nil
	}
	if err := atomicfile.WriteFile(s.path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("kafkaauth: save credentials (is the data dir writable?): %w", err)
	}
	return nil
}
