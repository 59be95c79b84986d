package pgcdc

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/lgsp-bus/lgsp/connectors"
)

// A position is one of three kinds:
//
//	snapshot: 'k', consistent point LSN (8), done flag (1), table index (2),
//	          the row version's xmin (8), primary key column count (1),
//	          each key value as text (uvarint length, bytes)
//	legacy:   's', consistent point LSN (8), done flag (1), row number (8)
//	stream:   'x', commit LSN (8), transaction end LSN (8; 0 except on the
//	          transaction's last record, since the others are handed out
//	          before the commit message), index in the transaction (4),
//	          last-in-transaction flag (1)
//
// A snapshot position with done set means the whole snapshot is durable and
// streaming resumes at the consistent point. Without it the snapshot
// resumes after the key it names (rows are read in primary-key order), so
// an instance that takes the connector over does not start again. A row
// read twice gets the same position, hence the same ce_id, as long as it
// did not change in between (its xmin is part of the position); a row that
// did change gets a new one, so a consumer never drops the newer content as
// a repeat. The legacy kind (written before snapshots were keyed) cannot
// resume: its snapshot is taken again. A stream position resumes inside or
// after its transaction.
type position struct {
	snapshot bool
	// snapshot
	consistent pglogrepl.LSN
	done       bool
	row        uint64 // legacy positions only
	keyed      bool
	table      uint16
	xmin       uint64
	key        []string
	// stream
	commit, end pglogrepl.LSN
	index       uint32
	last        bool
}

func (p position) encode() connectors.Position {
	if p.snapshot && p.keyed {
		b := make([]byte, 0, 21+len(p.key)*16)
		b = append(b, 'k')
		b = binary.BigEndian.AppendUint64(b, uint64(p.consistent))
		b = append(b, boolByte(p.done))
		b = binary.BigEndian.AppendUint16(b, p.table)
		b = binary.BigEndian.AppendUint64(b, p.xmin)
		b = append(b, byte(len(p.key)))
		for _, k := range p.key {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
		}
		return b
	}
	if p.snapshot {
		b := make([]byte, 0, 18)
		b = append(b, 's')
		b = binary.BigEndian.AppendUint64(b, uint64(p.consistent))
		b = append(b, boolByte(p.done))
		return binary.BigEndian.AppendUint64(b, p.row)
	}
	b := make([]byte, 0, 22)
	b = append(b, 'x')
	b = binary.BigEndian.AppendUint64(b, uint64(p.commit))
	b = binary.BigEndian.AppendUint64(b, uint64(p.end))
	b = binary.BigEndian.AppendUint32(b, p.index)
	return append(b, boolByte(p.last))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func decodePosition(b connectors.Position) (position, error) {
	switch {
	case len(b) >= 21 && b[0] == 'k':
		p := position{snapshot: true, keyed: true, consistent: pglogrepl.LSN(binary.BigEndian.Uint64(b[1:])), done: b[9] == 1,
			table: binary.BigEndian.Uint16(b[10:]), xmin: binary.BigEndian.Uint64(b[12:])}
		n, rest := int(b[20]), b[21:]
		for range n {
			l, w := binary.Uvarint(rest)
			if w <= 0 || uint64(len(rest)-w) < l {
				return position{}, fmt.Errorf("pgcdc: snapshot position %x is cut short (reset the connector's position)", []byte(b))
			}
			p.key = append(p.key, string(rest[w:w+int(l)]))
			rest = rest[w+int(l):]
		}
		if len(rest) != 0 {
			return position{}, fmt.Errorf("pgcdc: snapshot position %x has trailing bytes (reset the connector's position)", []byte(b))
		}
		return p, nil
	case len(b) == 18 && b[0] == 's':
		return position{snapshot: true, consistent: pglogrepl.LSN(binary.BigEndian.Uint64(b[1:])), done: b[9] == 1, row: binary.BigEndian.Uint64(b[10:])}, nil
	case len(b) == 22 && b[0] == 'x':
		return position{commit: pglogrepl.LSN(binary.BigEndian.Uint64(b[1:])), end: pglogrepl.LSN(binary.BigEndian.Uint64(b[9:])), index: binary.BigEndian.Uint32(b[17:]), last: b[21] == 1}, nil
	}
	return position{}, fmt.Errorf("pgcdc: position %x is not a PostgreSQL CDC position (reset the connector's position)", []byte(b))
}

// flushLSN is the LSN that may be confirmed to the server once every record
// up to this position is durable: the transaction's end when it was the
// last record of it (the server then skips the transaction on restart),
// else its commit LSN (the server sends the transaction again and the
// records already durable are skipped by index).
func (p position) flushLSN() pglogrepl.LSN {
	switch {
	case p.snapshot && p.done:
		return p.consistent
	case p.snapshot:
		return 0
	case p.last:
		return p.end
	}
	return p.commit
}

// String is for logs and the state API.
func (p position) String() string {
	if p.snapshot && p.keyed {
		// The key may be a personal number: it stays out of logs.
		return fmt.Sprintf("snapshot@%s table #%d done=%v", p.consistent, p.table, p.done)
	}
	if p.snapshot {
		return fmt.Sprintf("snapshot@%s row %d done=%v", p.consistent, p.row, p.done)
	}
	return fmt.Sprintf("tx commit %s end %s #%d last=%v", p.commit, p.end, p.index, p.last)
}
