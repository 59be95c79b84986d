// Package files reads CSV and NDJSON files: bulk loads and legacy exports
// of the ministries. Files matching a path or glob are read in name order;
// a file that grows is read on as lines are appended, and a new file
// matching the glob is read after the current one.
//
// The position is (file, byte offset after the last record), so a restart
// resumes exactly after the last acknowledged record. CSV files have a
// header line naming the columns (or column_names in the config); a UTF-8
// byte order mark, common in spreadsheet exports, is skipped. Values can be
// typed per column (integer, number, boolean); CSV empty fields are null.
//
// Every record carries its file, line and offset as metadata. A line that
// does not parse (bad JSON, a CSV row with the wrong number of fields,
// text that is not UTF-8) becomes a bad record (connectors.BadRecord) with
// the reason and the JSON path: the bus dead-letters it and the lines after
// it flow on.
//
// A progress bar is drawn on the host's progress writer (the operator's
// terminal) for large files when it is a terminal (progress: auto),
// always, or never.
package files

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// AdapterName is the name the adapter registers under.
const AdapterName = "files"

func init() {
	connectors.Register(connectors.Typed(AdapterName, "CSV / NDJSON files (bulk loads, legacy exports), resumable by file and byte offset", DefaultConfig, New))
}

// Config configures one file connector. The tags are its rules (see the
// connectors package); Validate holds the rest.
type Config struct {
	Path                     string            `yaml:"path" json:"path" required:"true" doc:"a file or a glob (exports/*.csv); matching files are read in name order"`
	Format                   string            `yaml:"format" json:"format" enum:",csv,ndjson" doc:"csv or ndjson; empty: from the file extension (.csv, .ndjson, .jsonl)"`
	Delimiter                string            `yaml:"delimiter" json:"delimiter" default:"\",\"" required:"true" pattern:"^[^\"\n]$" patternmsg:"one character other than quote and newline" doc:"CSV field separator"`
	Header                   bool              `yaml:"header" json:"header" default:"true" doc:"the first CSV line names the columns"`
	ColumnNames              []string          `yaml:"column_names" json:"column_names" doc:"CSV column names when header is false"`
	EmptyAsNull              bool              `yaml:"empty_as_null" json:"empty_as_null" default:"true" doc:"an empty CSV field is null"`
	Types                    map[string]string `yaml:"types" json:"types" enum:"integer,number,boolean,string" doc:"source column → integer, number, boolean or string (CSV values are strings otherwise)"`
	connectors.ColumnMapping `yaml:",inline" json:",inline"`
	BatchSize                int           `yaml:"batch_size" json:"batch_size" default:"1000" min:"1" max:"100000" doc:"most records one read returns"`
	PollInterval             time.Duration `yaml:"poll_interval" json:"poll_interval" default:"1s" min:"10ms" doc:"pause before looking again for appended lines or new files"`
	Progress                 string        `yaml:"progress" json:"progress" default:"auto" enum:"auto,always,never" doc:"auto (a bar on a terminal for files above progress_min_bytes), always or never"`
	ProgressMinBytes         int64         `yaml:"progress_min_bytes" json:"progress_min_bytes" default:"16777216" min:"0" doc:"smallest file that gets a progress bar"`
}

// DefaultConfig is the config of the tags' defaults: comma-separated CSV
// with a header, empty fields null, batches of 1000, a look for new data
// every second, progress bar auto for files of 16 MiB and more.
func DefaultConfig() Config { return connectors.Defaults[Config]() }

// Validate checks what the tags cannot say.
func (c Config) Validate() error {
	var errs []error
	if _, err := filepath.Match(c.Path, ""); err != nil {
		errs = append(errs, fmt.Errorf("path %q: %w", c.Path, err))
	}
	if !c.Header && len(c.ColumnNames) == 0 && c.Format != "ndjson" {
		errs = append(errs, errors.New("column_names: required when header is false"))
	}
	errs = append(errs, c.Check("mapping")...)
	return errors.Join(errs...)
}

// pos is a file position: the file and the offset after the last record.
type pos struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

// Source reads files.
type Source struct {
	env connectors.Env
	log *slog.Logger
	cfg Config

	at     pos // where reading stands (the next byte to read)
	f      *os.File
	r      *bufio.Reader
	buf    []byte // bytes read but not yet consumed
	isCSV  bool
	header []string
	bar    *progressbar.ProgressBar
	// stalled is the length of an unterminated last line seen at the
	// previous poll
	stalled int
	// lines is how many newlines of the open file lie before the next
	// record; recLine is the line the record last returned by next starts on
	lines, recLine int
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// TestConnection checks that the path can be read: the directory of a glob
// exists and can be listed (no file matching yet is fine: exports may come
// later), a plain path is a readable file, and every file matching now
// can be opened.
func (s *Source) TestConnection(context.Context) error {
	dir := s.cfg.Path
	glob := strings.ContainsAny(dir, "*?[\\")
	if glob {
		dir = filepath.Dir(dir)
		for strings.ContainsAny(dir, "*?[\\") {
			dir = filepath.Dir(dir)
		}
		if _, err := os.ReadDir(dir); err != nil {
			return fmt.Errorf("files: %w: path %s: directory %s cannot be listed: %w (fix path, create the directory or grant the bus read access)", connectors.ErrConfig, s.cfg.Path, dir, err)
		}
	}
	names, err := s.list()
	if err != nil {
		return err
	}
	if !glob && len(names) == 0 {
		return fmt.Errorf("files: %w: path %s: no such file (fix path, or use a glob to wait for files to arrive)", connectors.ErrConfig, s.cfg.Path)
	}
	var errs []error
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			errs = append(errs, fmt.Errorf("%s is a directory, not a file", n))
		}
		f.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("files: %w: path %s: %w", connectors.ErrConfig, s.cfg.Path, errors.Join(errs...))
	}
	return nil
}

// New builds a source from a config.
func New(env connectors.Env, cfg Config) (*Source, error) {
	if err := connectors.CheckConfig(&cfg); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Source{env: env, log: env.Log(), cfg: cfg}, nil
}

// Open resumes after p (nil: from the first file's start).
func (s *Source) Open(_ context.Context, p connectors.Position) error {
	s.at = pos{}
	if p != nil {
		if err := json.Unmarshal(p, &s.at); err != nil || s.at.File == "" || s.at.Offset < 0 {
			return fmt.Errorf("files: %w: position %q is not a file position: reset the connector's position", connectors.ErrConfig, p)
		}
	}
	return nil
}

func (s *Source) list() ([]string, error) {
	names, err := filepath.Glob(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("files: %w: path: %w", connectors.ErrConfig, err)
	}
	sort.Strings(names)
	return names, nil
}

func (s *Source) formatOf(name string) bool {
	switch s.cfg.Format {
	case "csv":
		return true
	case "ndjson":
		return false
	}
	return strings.EqualFold(filepath.Ext(name), ".csv")
}

// openFile opens name and positions it at off, reading the CSV header.
func (s *Source) openFile(name string, off int64) error {
	f, err := os.Open(name)
	if err != nil {
		return connectors.Backoff(fmt.Errorf("files: %w", err))
	}
	s.closeFile()
	s.f, s.r, s.buf = f, bufio.NewReaderSize(f, 1<<20), nil
	s.at, s.lines = pos{File: name, Offset: 0}, 0
	s.isCSV = s.formatOf(name)
	s.header = s.cfg.ColumnNames
	if s.isCSV && s.cfg.Header {
		// The header is the file's first record; read it even when
		// resuming further in.
		for {
			rec, err := s.next(false)
			if err != nil {
				return err
			}
			if rec == nil {
				// no complete header yet: try again later
				s.closeFile()
				return nil
			}
			fields, err := ParseCSVRecord(rec, []rune(s.cfg.Delimiter)[0])
			if err != nil {
				return fmt.Errorf("files: %s: header: %w (fix the file)", name, err)
			}
			if fields != nil {
				s.header = fields
				break
			}
		}
	}
	if off > s.at.Offset {
		// Count the lines skipped, so records keep their real line numbers
		// after a restart (one sequential read of what is skipped).
		skipped, err := countLines(f, s.at.Offset, off)
		if err != nil {
			return connectors.Backoff(fmt.Errorf("files: %s: resume at %d: %w", name, off, err))
		}
		s.lines += skipped
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("files: %s: seek to %d: %w", name, off, err)
		}
		s.r.Reset(f)
		s.buf, s.at.Offset = nil, off
	}
	s.log.Info("reading file", "file", name, "offset", s.at.Offset)
	if st, err := f.Stat(); err == nil && s.wantBar(st.Size()) {
		s.bar = progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(s.env.Progress), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(filepath.Base(name)), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
		_ = s.bar.Set64(s.at.Offset)
	}
	return nil
}

// wantBar: a bar needs somewhere to go (the host's Progress writer); auto
// draws it only on a terminal, never into a log file.
func (s *Source) wantBar(size int64) bool {
	if s.env.Progress == nil {
		return false
	}
	switch s.cfg.Progress {
	case "always":
		return true
	case "auto":
		f, ok := s.env.Progress.(interface{ Fd() uintptr })
		return ok && size >= s.cfg.ProgressMinBytes && term.IsTerminal(int(f.Fd()))
	}
	return false
}

// countLines counts the newlines of f between from and to (absolute
// offsets), reading through a section so f's own offset is untouched.
func countLines(f *os.File, from, to int64) (int, error) {
	n := 0
	buf := make([]byte, 64<<10)
	r := io.NewSectionReader(f, from, to-from)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (s *Source) closeFile() {
	if s.bar != nil {
		_ = s.bar.Finish()
		s.bar = nil
	}
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}

// next returns the next complete record of the open file and advances the
// offset past it; nil when the file holds no complete record (yet).
func (s *Source) next(atEOF bool) ([]byte, error) {
	for {
		if n := nextRecord(s.buf, s.isCSV, atEOF); n > 0 {
			rec := s.buf[:n]
			s.buf = s.buf[n:]
			if s.at.Offset == 0 && len(rec) >= 3 && string(rec[:3]) == string(bom) {
				rec = rec[3:]
			}
			s.recLine = s.lines + 1
			s.lines += bytes.Count(rec, []byte{'\n'})
			s.at.Offset += int64(n)
			return rec, nil
		}
		chunk := make([]byte, 64<<10)
		k, err := s.r.Read(chunk)
		if k > 0 {
			s.buf = append(s.buf, chunk[:k]...)
			continue
		}
		if err == io.EOF || err == nil {
			return nil, nil
		}
		return nil, connectors.Backoff(fmt.Errorf("files: read %s: %w", s.at.File, err))
	}
}

// Read returns the next records; at the end of the data it waits for
// appended lines or a new file.
func (s *Source) Read(ctx context.Context) ([]connectors.Record, error) {
	for {
		out, err := s.readSome()
		if err != nil || len(out) > 0 {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

func (s *Source) readSome() ([]connectors.Record, error) {
	if s.f == nil {
		names, err := s.list()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if n == s.at.File {
				return nil, s.openFile(n, s.at.Offset)
			}
			if n > s.at.File {
				return nil, s.openFile(n, 0)
			}
		}
		return nil, nil
	}
	var out []connectors.Record
	for len(out) < s.cfg.BatchSize {
		rec, err := s.next(false)
		if err != nil {
			return out, err
		}
		if rec == nil {
			break
		}
		if s.bar != nil {
			_ = s.bar.Set64(s.at.Offset)
		}
		r, ok := s.record(rec)
		if ok {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		// End of this file's data: move to a later file if there is one
		// (this file is then complete, its unterminated last line too).
		names, err := s.list()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if n > s.at.File {
				if rec, _ := s.next(true); rec != nil {
					if r, ok := s.record(rec); ok {
						out = append(out, r)
					}
				}
				s.closeFile()
				if len(out) == 0 {
					return nil, s.openFile(n, 0)
				}
				return out, nil
			}
		}
		// No later file: an unterminated last line that stayed the same
		// for a whole poll interval is taken as complete.
		if len(s.buf) > 0 && s.stalled == len(s.buf) {
			if rec, _ := s.next(true); rec != nil {
				if r, ok := s.record(rec); ok {
					out = append(out, r)
				}
			}
		}
		s.stalled = len(s.buf)
	}
	return out, nil
}

// record turns one raw record into a Record; blank lines are skipped. A
// line that does not parse becomes a bad record holding the raw line, the
// reason and the JSON path, so the bus dead-letters it with its position
// and the ministry sees what to fix.
func (s *Source) record(rec []byte) (connectors.Record, bool) {
	var row map[string]any
	var err error
	if s.isCSV {
		var fields []string
		fields, err = ParseCSVRecord(rec, []rune(s.cfg.Delimiter)[0])
		if err == nil && fields == nil {
			return connectors.Record{}, false
		}
		if err == nil {
			row, err = csvRow(s.header, fields, s.cfg.EmptyAsNull)
		}
	} else {
		row, err = ParseNDJSONLine(rec)
		if err == nil && row == nil {
			return connectors.Record{}, false
		}
	}
	p, _ := json.Marshal(s.at)
	meta := map[string]string{connectors.MetaFile: s.at.File, connectors.MetaLine: strconv.Itoa(s.recLine), connectors.MetaOffset: strconv.FormatInt(s.at.Offset, 10)}
	if err != nil {
		path := errorPath(err)
		// The reason names the file, the line and the fields, never values.
		reason := fmt.Sprintf("%s line %d: %v", filepath.Base(s.at.File), s.recLine, err)
		s.log.Warn("line does not parse; it is dead-lettered", "file", s.at.File, "line", s.recLine, "path", path)
		return connectors.Record{Dataset: s.cfg.Dataset, Op: connectors.OpCreate, Position: p, Metadata: meta,
			Bad: connectors.Malformed(path, reason, bytes.Clone(trimLine(rec)))}, true
	}
	convert(row, s.cfg.Types)
	return connectors.Record{Dataset: s.cfg.Dataset, Op: connectors.OpCreate, After: s.cfg.Apply(row), Position: p, Metadata: meta}, true
}

// Ack has nothing to release; the files stay where they are.
func (s *Source) Ack(context.Context, connectors.Position) error { return nil }

// Close closes the open file.
func (s *Source) Close(context.Context) error {
	s.closeFile()
	return nil
}
