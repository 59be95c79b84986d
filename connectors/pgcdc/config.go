package pgcdc

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lgsp-bus/lgsp/connectors"
)

// Config configures one PostgreSQL change-data-capture connector.
type Config struct {
	URL               string        `yaml:"url" json:"url" required:"true" doc:"PostgreSQL URL, e.g. postgres://lgsp:secret@db.bo-tnmt.local:5432/dat_dai; the role needs REPLICATION (or superuser) and SELECT on the tables"`
	Slot              string        `yaml:"slot" json:"slot" pattern:"^[a-z_][a-z0-9_]{0,62}$" patternmsg:"lower-case letters, digits and _ (at most 63)" doc:"logical replication slot; default lgsp_<connector name>"`
	Publication       string        `yaml:"publication" json:"publication" pattern:"^[a-z_][a-z0-9_]{0,62}$" patternmsg:"lower-case letters, digits and _ (at most 63)" doc:"publication of the tables; default lgsp_<connector name>"`
	CreatePublication bool          `yaml:"create_publication" json:"create_publication" default:"true" doc:"create the publication (and set its tables) if needed, and drop it when the connector is deleted; false: a DBA created it"`
	Snapshot          string        `yaml:"snapshot" json:"snapshot" default:"initial" enum:"initial,never" doc:"initial: read the existing rows (op r) from a snapshot consistent with the slot, then stream; never: stream changes only"`
	Tables            []Table       `yaml:"tables" json:"tables" required:"true" doc:"tables to capture and the dataset each maps onto"`
	BatchSize         int           `yaml:"batch_size" json:"batch_size" default:"1000" min:"1" max:"100000" doc:"most records one read returns"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval" default:"10s" min:"100ms" max:"10m" doc:"how often the acknowledged position is reported to the server even when idle, so the slot does not pin WAL; below the server's wal_sender_timeout"`
}

// Table maps one source table onto a dataset.
type Table struct {
	// Table is "schema.table" or "table" (schema public).
	Table                    string `yaml:"table" json:"table" required:"true" doc:"source table, schema.table or table (schema public); it needs a primary key"`
	connectors.ColumnMapping `yaml:",inline" json:",inline"`
}

// DefaultConfig is the config of the tags' defaults: snapshot then
// stream, batches of 1000, a heartbeat every 10s, publication managed by
// the connector.
func DefaultConfig() Config { return connectors.Defaults[Config]() }

// Validate checks what the tags cannot say: the URL parses, no table is
// listed twice, column mappings are consistent.
func (c Config) Validate() error {
	var errs []error
	if _, err := pgconn.ParseConfig(c.URL); c.URL != "" && err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	seen := map[string]bool{}
	for i, t := range c.Tables {
		p := fmt.Sprintf("tables[%d]", i)
		if t.Table != "" {
			q := qualified(t.Table)
			if seen[q] {
				errs = append(errs, fmt.Errorf("%s.table: %s listed twice", p, q))
			}
			seen[q] = true
		}
		errs = append(errs, t.Check(p)...)
	}
	return errors.Join(errs...)
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
