package pgcdc

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lgsp-bus/lgsp/connectors"
)

// Config configures one PostgreSQL change-data-capture connector.
type Config struct {
	URL               string        `yaml:"url" json:"url" required:"true" doc:"PostgreSQL URL, e.g. postgres://lgsp:secret@db.bo-tnmt.local:5432/dat_dai; the role needs REPLICATION (or superuser) and SELECT on the tables"`
	Slot              string        `yaml:"slot" json:"slot" doc:"logical replication slot; default lgsp_<connector name>"`
	Publication       string        `yaml:"publication" json:"publication" doc:"publication of the tables; default lgsp_<connector name>"`
	CreatePublication bool          `yaml:"create_publication" json:"create_publication" doc:"create the publication (and set its tables) if needed, and drop it when the connector is deleted; false: a DBA created it"`
	Snapshot          string        `yaml:"snapshot" json:"snapshot" doc:"initial: read the existing rows (op r) from a snapshot consistent with the slot, then stream; never: stream changes only"`
	Tables            []Table       `yaml:"tables" json:"tables" required:"true" doc:"tables to capture and the dataset each maps onto"`
	BatchSize         int           `yaml:"batch_size" json:"batch_size" doc:"most records one read returns"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval" doc:"how often the acknowledged position is reported to the server even when idle, so the slot does not pin WAL"`
}

// Table maps one source table onto a dataset.
type Table struct {
	// Table is "schema.table" or "table" (schema public).
	Table                    string `yaml:"table" json:"table" required:"true" doc:"source table, schema.table or table (schema public); it needs a primary key"`
	connectors.ColumnMapping `yaml:",inline" json:",inline"`
}

// DefaultConfig returns the defaults: snapshot then stream, batches of
// 1000, a heartbeat every 10s, publication managed by the connector.
func DefaultConfig() Config {
	return Config{CreatePublication: true, Snapshot: "initial", BatchSize: 1000, HeartbeatInterval: 10 * time.Second}
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Validate reports every problem of the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required"))
	} else if _, err := pgconn.ParseConfig(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if c.Slot != "" && !identRE.MatchString(c.Slot) {
		errs = append(errs, fmt.Errorf("slot %q: want lower-case letters, digits and _ (at most 63)", c.Slot))
	}
	if c.Publication != "" && !identRE.MatchString(c.Publication) {
		errs = append(errs, fmt.Errorf("publication %q: want lower-case letters, digits and _ (at most 63)", c.Publication))
	}
	if c.Snapshot != "initial" && c.Snapshot != "never" {
		errs = append(errs, fmt.Errorf("snapshot %q: want initial or never", c.Snapshot))
	}
	if len(c.Tables) == 0 {
		errs = append(errs, errors.New("tables: list at least one table"))
	}
	seen := map[string]bool{}
	for i, t := range c.Tables {
		p := fmt.Sprintf("tables[%d]", i)
		if t.Table == "" {
			errs = append(errs, fmt.Errorf("%s.table: required", p))
		} else {
			q := qualified(t.Table)
			if seen[q] {
				errs = append(errs, fmt.Errorf("%s.table: %s listed twice", p, q))
			}
			seen[q] = true
		}
		errs = append(errs, t.Check(p)...)
	}
	if c.BatchSize < 1 || c.BatchSize > 100_000 {
		errs = append(errs, fmt.Errorf("batch_size %d: want 1 to 100000", c.BatchSize))
	}
	if c.HeartbeatInterval < 100*time.Millisecond || c.HeartbeatInterval > 10*time.Minute {
		errs = append(errs, fmt.Errorf("heartbeat_interval %s: want 100ms to 10m (below the server's wal_sender_timeout)", c.HeartbeatInterval))
	}
	if len(errs) > 0 {
		return fmt.Errorf("pgcdc: %w: %w", connectors.ErrConfig, errors.Join(errs...))
	}
	return nil
}

// qualified returns "schema.table" with schema public by default.
func qualified(t string) string {
	if strings.Contains(t, ".") {
		return t
	}
	return "public." + t
}

func splitTable(t string) (schema, name string) {
	s, n, _ := strings.Cut(qualified(t), ".")
	return s, n
}

// defaultName makes a slot or publication name from a connector name.
func defaultName(connector string) string {
	var b strings.Builder
	b.WriteString("lgsp_")
	for _, r := range strings.ToLower(connector) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}
