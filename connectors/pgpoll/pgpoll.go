// Package pgpoll reads a PostgreSQL table by polling an increasing column
// (updated_at, a sequence-fed id), for ministry databases where logical
// replication is not available.
//
// Each poll reads the rows after the last position in (cursor column, key
// columns) order, so rows sharing a cursor value are neither lost nor read
// twice. Every row read is a record with op "r" carrying the row's current
// state: a row updated several times between two polls yields its latest
// version only, and deletes are not seen (use postgres-cdc for those).
//
// The cursor column must grow when a row changes and must be set at commit
// order: a transaction that commits after a later one with a smaller
// cursor value is missed. A sequence or clock_timestamp() set by a trigger
// in short transactions is the usual choice; postgres-cdc has no such gap.
//
// The position is the last (cursor, key) read of every table, as JSON.
package pgpoll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/internal/pgvalue"
)

// AdapterName is the name the adapter registers under.
const AdapterName = "postgres-poll"

func init() {
	connectors.Register(connectors.Typed(AdapterName, "PostgreSQL table polling by an increasing column (updated_at, id), for databases without logical replication", DefaultConfig, New))
}

// Config configures one polling connector.
type Config struct {
	URL          string        `yaml:"url" json:"url" required:"true" doc:"PostgreSQL URL; the role needs SELECT on the tables"`
	Tables       []Table       `yaml:"tables" json:"tables" required:"true" doc:"tables to poll and the dataset each maps onto"`
	PollInterval time.Duration `yaml:"poll_interval" json:"poll_interval" default:"2s" min:"10ms" doc:"pause between polls when no new rows were found"`
	BatchSize    int           `yaml:"batch_size" json:"batch_size" default:"1000" min:"1" max:"100000" doc:"most rows read per table per poll"`
}

// Table is one polled table.
type Table struct {
	Table                    string   `yaml:"table" json:"table" required:"true" doc:"source table, schema.table or table (schema public)"`
	CursorColumn             string   `yaml:"cursor_column" json:"cursor_column" required:"true" doc:"column that grows whenever a row is inserted or updated (a sequence-fed id, or updated_at set by a trigger)"`
	KeyColumns               []string `yaml:"key_columns" json:"key_columns" doc:"columns that identify a row and break ties of the cursor; default the primary key"`
	connectors.ColumnMapping `yaml:",inline" json:",inline"`
}

// DefaultConfig is the config of the tags' defaults: a poll every 2s in
// batches of 1000 rows.
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
		if t.Table != "" && seen[qualified(t.Table)] {
			errs = append(errs, fmt.Errorf("%s.table: %s listed twice", p, qualified(t.Table)))
		}
		seen[qualified(t.Table)] = true
		errs = append(errs, t.Check(p)...)
	}
	return errors.Join(errs...)
}

func qualified(t string) string {
	if strings.Contains(t, ".") {
		return t
	}
	return "public." + t
}

// cursor is where a table's polling stands: the last row read.
type cursor struct {
	Cursor string   `json:"c"`
	Key    []string `json:"k"`
}

// Source polls tables.
type Source struct {
	name   string
	log    *slog.Logger
	cfg    Config
	conn   *pgx.Conn
	tables []*table
	pos    map[string]cursor
}

type table struct {
	cfg   Table
	name  string // schema.table
	keys  []string
	query string // first poll
	after string // later polls
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// New builds a source from a config; it connects in Open.
func New(env connectors.Env, cfg Config) (*Source, error) {
	if err := connectors.CheckConfig(&cfg); err != nil {
		return nil, fmt.Errorf("pgpoll: %w", err)
	}
	return &Source{name: env.Name, log: env.Log(), cfg: cfg}, nil
}

func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if c := pgErr.Code[:2]; c == "08" || c == "53" || c == "57" {
			return connectors.Backoff(err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return connectors.Backoff(err)
}

func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgpoll: url: %w: %w", connectors.ErrConfig, err)
	}
	for k, v := range pgvalue.RuntimeParams {
		cc.RuntimeParams[k] = v
	}
	cc.RuntimeParams["application_name"] = "lgsp-" + s.name
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, classify(fmt.Errorf("pgpoll: connect: %w", err))
	}
	return conn, nil
}

const pkSQL = `
SELECT coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
   FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm')`

// inspect resolves the key columns of every table and builds its queries.
func (s *Source) inspect(ctx context.Context, conn *pgx.Conn) error {
	var errs []error
	s.tables = nil
	for _, t := range s.cfg.Tables {
		schema, name, _ := strings.Cut(qualified(t.Table), ".")
		var pk []string
		var hasCursor bool
		err := conn.QueryRow(ctx, pkSQL, schema, name, t.CursorColumn).Scan(&pk, &hasCursor)
		if errors.Is(err, pgx.ErrNoRows) {
			errs = append(errs, fmt.Errorf("table %s.%s does not exist (or the role cannot see it): fix tables[].table or grant SELECT", schema, name))
			continue
		}
		if err != nil {
			return classify(fmt.Errorf("pgpoll: inspect %s.%s: %w", schema, name, err))
		}
		if !hasCursor {
			errs = append(errs, fmt.Errorf("table %s.%s has no column %s: fix tables[].cursor_column", schema, name, t.CursorColumn))
		}
		keys := t.KeyColumns
		if len(keys) == 0 {
			keys = pk
		}
		if len(keys) == 0 {
			errs = append(errs, fmt.Errorf("table %s.%s has no primary key: add one or set tables[].key_columns", schema, name))
			continue
		}
		tb := &table{cfg: t, name: schema + "." + name, keys: keys}
		ident := pgx.Identifier{schema, name}.Sanitize()
		order := []string{pgx.Identifier{t.CursorColumn}.Sanitize()}
		extra := []string{pgx.Identifier{t.CursorColumn}.Sanitize() + "::text AS lgsp__c"}
		params := []string{"$1"}
		for i, k := range keys {
			q := pgx.Identifier{k}.Sanitize()
			order = append(order, q)
			extra = append(extra, fmt.Sprintf("%s::text AS lgsp__k%d", q, i))
			params = append(params, fmt.Sprintf("$%d", i+2))
		}
		sel := fmt.Sprintf("SELECT *, %s FROM %s", strings.Join(extra, ", "), ident)
		tail := fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(order, ", "), s.cfg.BatchSize)
		tb.query = sel + fmt.Sprintf(" WHERE %s IS NOT NULL", order[0]) + tail
		tb.after = sel + fmt.Sprintf(" WHERE (%s) > (%s)", strings.Join(order, ", "), strings.Join(params, ", ")) + tail
		s.tables = append(s.tables, tb)
	}
	if len(errs) > 0 {
		return fmt.Errorf("pgpoll: %w: %w", connectors.ErrConfig, errors.Join(errs...))
	}
	return nil
}

// Open connects and resumes after pos.
func (s *Source) Open(ctx context.Context, pos connectors.Position) error {
	s.pos = map[string]cursor{}
	if pos != nil {
		if err := json.Unmarshal(pos, &s.pos); err != nil {
			return fmt.Errorf("pgpoll: %w: position %q is not a polling position: reset the connector's position", connectors.ErrConfig, pos)
		}
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	s.conn = conn
	return s.inspect(ctx, conn)
}

// Read polls every table once; when none has new rows it waits
// poll_interval and polls again.
func (s *Source) Read(ctx context.Context) ([]connectors.Record, error) {
	for {
		var out []connectors.Record
		for _, t := range s.tables {
			recs, err := s.poll(ctx, t)
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
		}
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

func (s *Source) poll(ctx context.Context, t *table) ([]connectors.Record, error) {
	if s.conn == nil || s.conn.IsClosed() {
		// The database restarted or the connection dropped: reconnect and
		// go on from the last row read (a failure is a back-off).
		conn, err := s.connect(ctx)
		if err != nil {
			return nil, err
		}
		s.log.Info("reconnected to the database; polling goes on after the last row read", "table", t.name)
		s.conn = conn
	}
	var rows pgx.Rows
	var err error
	if c, ok := s.pos[t.name]; ok && len(c.Key) == len(t.keys) {
		args := []any{c.Cursor}
		for _, k := range c.Key {
			args = append(args, k)
		}
		rows, err = s.conn.Query(ctx, t.after, args...)
	} else {
		rows, err = s.conn.Query(ctx, t.query)
	}
	if err != nil {
		return nil, classify(fmt.Errorf("pgpoll: poll %s: %w", t.name, err))
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	nk := len(t.keys)
	ncols := len(fds) - 1 - nk
	var out []connectors.Record
	for rows.Next() {
		raw := rows.RawValues()
		row := make(map[string]any, ncols)
		for i := 0; i < ncols; i++ {
			row[fds[i].Name] = pgvalue.Decode(fds[i].DataTypeOID, raw[i])
		}
		c := cursor{Cursor: string(raw[ncols])}
		for i := 0; i < nk; i++ {
			c.Key = append(c.Key, string(raw[ncols+1+i]))
		}
		s.pos[t.name] = c
		p, err := json.Marshal(s.pos)
		if err != nil {
			return nil, err
		}
		out = append(out, connectors.Record{Dataset: t.cfg.Dataset, Op: connectors.OpRead, After: t.cfg.Apply(row), Position: p,
			Metadata: map[string]string{connectors.MetaTable: t.name}})
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("pgpoll: poll %s: %w", t.name, err))
	}
	return out, nil
}

// Ack has nothing to release: the position is all the source keeps.
func (s *Source) Ack(context.Context, connectors.Position) error { return nil }

// Close closes the connection.
func (s *Source) Close(context.Context) error {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.conn.Close(ctx)
	}
	return nil
}

// TestConnection checks the server is reachable and every table usable.
func (s *Source) TestConnection(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return s.inspect(ctx, conn)
}
