package pgcdc

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/connectors"
)

// OnCreate checks the tables and creates the publication; with snapshot
// "never" it also creates the slot, so that changes are kept from now on.
// With snapshot "initial" the slot is created by the first Open, because
// the snapshot must be exported by the slot's own creation.
func (s *Source) OnCreate(ctx context.Context) error {
	return s.withPublication(ctx, func(conn *pgx.Conn, slotExists bool) error {
		if s.cfg.Snapshot != "never" || slotExists {
			return nil
		}
		if _, err := conn.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, s.slot); err != nil {
			return classify(fmt.Errorf("pgcdc: create slot %s: %w", s.slot, err))
		}
		s.log.Info("replication slot created; changes are kept from now on", "slot", s.slot)
		return nil
	})
}

// withPublication is what both hooks start with: connect, check the
// tables, bring the publication to the configured tables, and look the
// slot up; then fn runs on that connection.
func (s *Source) withPublication(ctx context.Context, fn func(conn *pgx.Conn, slotExists bool) error) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := s.inspect(ctx, conn); err != nil {
		return err
	}
	if err := s.ensurePublication(ctx, conn); err != nil {
		return err
	}
	exists, _, err := s.slotState(ctx, conn)
	if err != nil {
		return err
	}
	return fn(conn, exists)
}

// OnUpdate is called when the connector's config changed since its last
// run: it checks the tables and sets the publication's tables to the new
// list, so a table added to the config is published before the first
// read. A table added to a connector that has streamed already starts with
// its changes from now on; its existing rows are not snapshotted (reset the
// connector's position to take a new snapshot of every table), which is
// logged as a warning so the operator is told.
func (s *Source) OnUpdate(ctx context.Context) error {
	return s.withPublication(ctx, func(_ *pgx.Conn, slotExists bool) error {
		if slotExists && s.cfg.Snapshot == "initial" {
			s.log.Warn("config changed: tables now listed are published; rows that were already in a newly listed table are not snapshotted (reset the connector's position for a new snapshot of every table)",
				"slot", s.slot, "publication", s.pub)
		}
		return nil
	})
}

// OnDelete drops the replication slot, so the database stops keeping WAL
// for the bus, and the publication when the connector created it. A slot
// still in use (the connector has not stopped yet) is a temporary error.
func (s *Source) OnDelete(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var errs []error
	if err := s.dropSlot(ctx, conn); err != nil {
		errs = append(errs, err)
	}
	if s.cfg.CreatePublication {
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{s.pub}.Sanitize()); err != nil {
			errs = append(errs, fmt.Errorf("pgcdc: drop publication %s: %w", s.pub, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.log.Info("replication slot and publication dropped", "slot", s.slot, "publication", s.pub, "publication_dropped", s.cfg.CreatePublication)
	return nil
}

// TestConnection checks that the database is reachable, runs with
// wal_level=logical, that the role may replicate, and that every table
// exists with a usable key.
func (s *Source) TestConnection(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var errs []error
	var level string
	var canReplicate bool
	if err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'), (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&level, &canReplicate); err != nil {
		return classify(fmt.Errorf("pgcdc: test: %w", err))
	}
	if level != "logical" {
		errs = append(errs, fmt.Errorf("wal_level is %s: set wal_level = logical in postgresql.conf and restart the server", level))
	}
	if !canReplicate {
		errs = append(errs, errors.New("the role may not replicate: ALTER ROLE ... WITH REPLICATION"))
	}
	if err := s.inspect(ctx, conn); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("pgcdc: %w: %w", connectors.ErrConfig, errors.Join(errs...))
	}
	return nil
}
