package witness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The files of a witness's state dir.
const (
	// KeyFile holds the witness's Ed25519 seed, hex (0600), made at first use.
	KeyFile = "witness.key"
	// BusKeyFile holds the bus's public key, hex, pinned at first use.
	BusKeyFile = "bus.pub"
	// LogFile has one Cosigned JSON per line, oldest first, append-only;
	// the last line is the newest checkpoint the witness vouches for.
	LogFile = "cosigned.jsonl"
)

// ErrRefused marks a checkpoint the witness will not cosign because it
// contradicts the last one it holds: a smaller tree (rollback), another
// root at the same size, or no valid consistency proof (fork, rewrite).
var ErrRefused = errors.New("witness: checkpoint refused")

// ErrNoBusKey is returned by Open when no bus key is pinned yet and none
// was given.
var ErrNoBusKey = errors.New("witness: no bus key pinned yet and none given")

// Witness holds the newest checkpoint it cosigned for one bus.
type Witness struct {
	dir    string
	key    ed25519.PrivateKey
	busKey ed25519.PublicKey

	mu     sync.Mutex // serialises Offer; guards latest
	latest *Cosigned

	// Registry has the witness's metrics: lgsp_witness_cosigned_total,
	// lgsp_witness_refused_total, lgsp_witness_checkpoint_size.
	Registry *prometheus.Registry
	cosigned prometheus.Counter
	refused  prometheus.Counter
	size     prometheus.Gauge
}

// Open loads (or, in an empty dir, creates) the state of a witness of the
// bus whose checkpoint key is busKey. The bus key is pinned at first use:
// later a busKey that differs from the pinned one is an error, and nil
// means the pinned one (ErrNoBusKey when none is).
func Open(dir string, busKey ed25519.PublicKey) (*Witness, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: state dir: %w", err)
	}
	w := &Witness{dir: dir, Registry: prometheus.NewRegistry()}
	w.cosigned = prometheus.NewCounter(prometheus.CounterOpts{Name: "lgsp_witness_cosigned_total", Help: "Checkpoints of the bus this witness accepted and cosigned."})
	w.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "lgsp_witness_refused_total", Help: "Checkpoints refused as inconsistent with the last one cosigned (fork, rollback, rewrite): alert on any increase."})
	w.size = prometheus.NewGauge(prometheus.GaugeOpts{Name: "lgsp_witness_checkpoint_size", Help: "Entries covered by the newest cosigned checkpoint."})
	w.Registry.MustRegister(w.cosigned, w.refused, w.size)

	seed, err := readOrCreate(filepath.Join(dir, KeyFile), func() (string, error) {
		s := make([]byte, ed25519.SeedSize)
		_, err := rand.Read(s)
		return hex.EncodeToString(s), err
	})
	if err != nil {
		return nil, err
	}
	sb, err := hex.DecodeString(seed)
	if err != nil || len(sb) != ed25519.SeedSize {
		return nil, fmt.Errorf("witness: %s must hold 64 hex characters (an Ed25519 seed)", filepath.Join(dir, KeyFile))
	}
	w.key = ed25519.NewKeyFromSeed(sb)

	pinPath := filepath.Join(dir, BusKeyFile)
	switch raw, err := os.ReadFile(pinPath); {
	case err == nil:
		pinned, err := ParseKey(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("witness: %s: %w", pinPath, err)
		}
		if busKey != nil && !bytes.Equal(busKey, pinned) {
			return nil, fmt.Errorf("witness: the bus key given (%x) differs from the one pinned in %s (%x); a bus that changed its key is a new log: use a new state dir", busKey, pinPath, pinned)
		}
		w.busKey = pinned
	case errors.Is(err, os.ErrNotExist):
		if busKey == nil {
			return nil, ErrNoBusKey
		}
		if err := os.WriteFile(pinPath, []byte(hex.EncodeToString(busKey)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("witness: pin the bus key: %w", err)
		}
		w.busKey = busKey
	default:
		return nil, fmt.Errorf("witness: %w", err)
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	return w, nil
}

func readOrCreate(path string, mk func() (string, error)) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("witness: %w", err)
	}
	v, err := mk()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("witness: %w", err)
	}
	return v, nil
}

// load reads the newest cosigned checkpoint: the last line of the file
// that verifies (a line torn by a crash while it was written is skipped).
func (w *Witness) load() error {
	f, err := os.Open(filepath.Join(w.dir, LogFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var c Cosigned
		if json.Unmarshal(sc.Bytes(), &c) != nil {
			continue
		}
		cp, err := c.Verify(w.busKey, w.PublicKey())
		if err != nil {
			continue
		}
		if w.latest == nil || cp.Size >= w.latest.Checkpoint.Size {
			w.latest = &c
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("witness: read %s: %w", LogFile, err)
	}
	if w.latest != nil {
		w.size.Set(float64(w.latest.Checkpoint.Size))
	}
	return nil
}

// PublicKey is the witness's cosigning key.
func (w *Witness) PublicKey() ed25519.PublicKey { return w.key.Public().(ed25519.PublicKey) }

// BusKey is the bus key the witness checks checkpoints with.
func (w *Witness) BusKey() ed25519.PublicKey { return w.busKey }

// Latest is the newest cosigned checkpoint (ok false: none yet).
func (w *Witness) Latest() (Cosigned, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest == nil {
		return Cosigned{}, false
	}
	return *w.latest, true
}

// ProofFunc fetches the consistency proof from size first to size second.
type ProofFunc func(ctx context.Context, first, second int64) ([][]byte, error)

// Offer checks cp (already verified with the bus key) against the newest
// checkpoint held and cosigns it when it extends it: the first one
// offered is accepted as is (trust on first use), a larger one needs a
// consistency proof from the one held, one equal to it is not cosigned
// again. It reports whether cp was cosigned. A checkpoint that contradicts
// the one held is refused (ErrRefused) and counted in
// lgsp_witness_refused_total; the held one stays.
func (w *Witness) Offer(ctx context.Context, cp audit.Checkpoint, proof ProofFunc) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	refuse := func(format string, args ...any) (bool, error) {
		w.refused.Inc()
		return false, fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
	}
	if w.latest != nil {
		old, err := w.latest.Checkpoint.Checkpoint(w.busKey)
		if err != nil {
			return false, fmt.Errorf("witness: the held checkpoint: %w", err)
		}
		switch {
		case cp.Size < old.Size:
			return refuse("a checkpoint of %d entries after one of %d (signed %s): the log was rolled back or cut", cp.Size, old.Size, old.Time.Format(time.RFC3339))
		case cp.Size == old.Size && !bytes.Equal(cp.Root, old.Root):
			return refuse("two roots for %d entries (%x held, %x offered): the log was forked", cp.Size, old.Root, cp.Root)
		case cp.Size == old.Size:
			return false, nil
		case old.Size > 0:
			p, err := proof(ctx, old.Size, cp.Size)
			if err != nil {
				return false, fmt.Errorf("witness: get the consistency proof from %d to %d entries: %w", old.Size, cp.Size, err)
			}
			if err := audit.VerifyConsistency(int(old.Size), int(cp.Size), old.Root, cp.Root, p); err != nil {
				return refuse("the checkpoint of %d entries is not consistent with the one of %d held (%v): the log was forked or rewritten", cp.Size, old.Size, err)
			}
		}
	}
	c := w.cosign(cp)
	line, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	if err := appendLine(filepath.Join(w.dir, LogFile), line); err != nil {
		return false, err
	}
	w.latest = &c
	w.cosigned.Inc()
	w.size.Set(float64(cp.Size))
	return true, nil
}

func (w *Witness) cosign(cp audit.Checkpoint) Cosigned {
	at := time.Now().UTC().Truncate(time.Microsecond)
	s := FromCheckpoint(w.busKey, cp)
	sig := ed25519.Sign(w.key, CosignMessage(s.Log, cp, at))
	return Cosigned{Checkpoint: s, Witness: hex.EncodeToString(w.PublicKey()), CosignedAt: at, Cosignature: base64.StdEncoding.EncodeToString(sig)}
}

// appendLine appends line and a newline durably.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("witness: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("witness: sync %s: %w", path, err)
	}
	return f.Close()
}

// Handler serves GET /checkpoint (the newest Cosigned; 404 before the
// first), GET /public-key (the witness's and the bus's keys) and GET
// /metrics. Everything served is hashes and signatures: no auth.
func (w *Witness) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/checkpoint", func(c echo.Context) error {
		l, ok := w.Latest()
		if !ok {
			return c.JSON(http.StatusNotFound, map[string]string{"error": "no checkpoint cosigned yet"})
		}
		return c.JSON(http.StatusOK, l)
	})
	e.GET("/public-key", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"algorithm": "Ed25519", "public_key": hex.EncodeToString(w.PublicKey()), "log": hex.EncodeToString(w.busKey)})
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(w.Registry, promhttp.HandlerOpts{})))
	return e
}
