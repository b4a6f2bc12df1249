package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresSchema creates the tables (idempotent). Names compare bytewise
// (COLLATE "C") so that records come back in the embedded store's order.
const postgresSchema = `
CREATE TABLE IF NOT EXISTS rpcmesh_usage_records (
	epoch_start   BIGINT NOT NULL,
	epoch_seconds BIGINT NOT NULL,
	chain         TEXT COLLATE "C" NOT NULL,
	provider      TEXT COLLATE "C" NOT NULL,
	operator      TEXT NOT NULL,
	requests      BIGINT NOT NULL,
	compute_units BIGINT NOT NULL,
	verified      BIGINT NOT NULL,
	audits_passed BIGINT NOT NULL,
	audits_failed BIGINT NOT NULL,
	PRIMARY KEY (epoch_start, chain, provider)
);
CREATE TABLE IF NOT EXISTS rpcmesh_usage_statements (
	epoch_start BIGINT NOT NULL,
	operator    TEXT COLLATE "C" NOT NULL,
	body        TEXT NOT NULL,
	PRIMARY KEY (epoch_start, operator)
);
CREATE TABLE IF NOT EXISTS rpcmesh_usage_stated (
	epoch_start BIGINT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS rpcmesh_usage_writers (
	writer TEXT PRIMARY KEY,
	seq    BIGINT NOT NULL,
	at     BIGINT NOT NULL
);`

// Postgres is the Store in a PostgreSQL database, for deployments that
// keep accounts outside the gateway's machine.
type Postgres struct {
	pool *pgxpool.Pool
}

// OpenPostgres connects to dsn (a pool of at most 4 connections: the
// Meter writes from one goroutine) and creates the tables if missing.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("usage store: postgres DSN: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("usage store: connect to postgres: %w", err)
	}
	if _, err := pool.Exec(ctx, postgresSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("usage store: create tables: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

// Add upserts every record's counts in one transaction, unless b was
// applied before: the writer's row moves to b.Seq in the same transaction.
func (p *Postgres) Add(ctx context.Context, b Batch) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO rpcmesh_usage_writers AS w (writer, seq, at) VALUES ($1, $2, $3)
			ON CONFLICT (writer) DO UPDATE SET seq = EXCLUDED.seq, at = EXCLUDED.at WHERE w.seq < EXCLUDED.seq`,
			b.Writer, int64(b.Seq), b.At)
		if err != nil {
			return fmt.Errorf("usage store: add records: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // applied before
		}
		if b.Seq == 1 {
			if _, err := tx.Exec(ctx, `DELETE FROM rpcmesh_usage_writers WHERE at < $1`,
				b.At-int64(WriterKeep/time.Second)); err != nil {
				return fmt.Errorf("usage store: forget old writers: %w", err)
			}
		}
		var q pgx.Batch
		for _, c := range b.Counts {
			q.Queue(`INSERT INTO rpcmesh_usage_records AS r (epoch_start, epoch_seconds, chain, provider, operator,
				requests, compute_units, verified, audits_passed, audits_failed)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (epoch_start, chain, provider) DO UPDATE SET
				requests = r.requests + EXCLUDED.requests, compute_units = r.compute_units + EXCLUDED.compute_units,
				verified = r.verified + EXCLUDED.verified, audits_passed = r.audits_passed + EXCLUDED.audits_passed,
				audits_failed = r.audits_failed + EXCLUDED.audits_failed`,
				c.EpochStart, c.EpochSeconds, c.Chain, c.Provider, c.Operator,
				int64(c.Requests), int64(c.ComputeUnits), int64(c.Verified), int64(c.AuditsPassed), int64(c.AuditsFailed))
		}
		if err := tx.SendBatch(ctx, &q).Close(); err != nil {
			return fmt.Errorf("usage store: add records: %w", err)
		}
		return nil
	})
}

// Records reads one epoch's records in statement order.
func (p *Postgres) Records(ctx context.Context, epochStart int64) ([]Record, error) {
	rows, err := p.pool.Query(ctx, `SELECT chain, provider, operator, epoch_start, epoch_seconds, requests,
		compute_units, verified, audits_passed, audits_failed FROM rpcmesh_usage_records
		WHERE epoch_start = $1 ORDER BY chain, provider`, epochStart)
	if err != nil {
		return nil, fmt.Errorf("usage store: read records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var n [5]int64
		err := row.Scan(&r.Chain, &r.Provider, &r.Operator, &r.EpochStart, &r.EpochSeconds, &n[0], &n[1], &n[2], &n[3], &n[4])
		r.Requests, r.ComputeUnits, r.Verified, r.AuditsPassed, r.AuditsFailed = uint64(n[0]), uint64(n[1]), uint64(n[2]), uint64(n[3]), uint64(n[4])
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("usage store: read records: %w", err)
	}
	sortRecords(out)
	return out, nil
}

// Unstated lists epochs with records and without a stated mark.
func (p *Postgres) Unstated(ctx context.Context, before int64) ([]int64, error) {
	rows, err := p.pool.Query(ctx, `SELECT DISTINCT r.epoch_start FROM rpcmesh_usage_records r
		WHERE r.epoch_start < $1 AND NOT EXISTS (SELECT 1 FROM rpcmesh_usage_stated s WHERE s.epoch_start = r.epoch_start)
		ORDER BY r.epoch_start`, before)
	if err != nil {
		return nil, fmt.Errorf("usage store: unstated epochs: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("usage store: unstated epochs: %w", err)
	}
	return out, nil
}

// PutStatements writes an epoch's statements and its mark in one
// transaction.
func (p *Postgres) PutStatements(ctx context.Context, epochStart int64, sts []*Statement) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, st := range sts {
			b.Queue(`INSERT INTO rpcmesh_usage_statements (epoch_start, operator, body) VALUES ($1, $2, $3)
				ON CONFLICT (epoch_start, operator) DO UPDATE SET body = EXCLUDED.body`, epochStart, st.Operator, string(st.Encode()))
		}
		b.Queue(`INSERT INTO rpcmesh_usage_stated (epoch_start) VALUES ($1) ON CONFLICT DO NOTHING`, epochStart)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("usage store: write statements: %w", err)
		}
		return nil
	})
}

// Statements reads statements, newest epoch first, then by operator.
func (p *Postgres) Statements(ctx context.Context, operator string, limit int) ([]json.RawMessage, error) {
	rows, err := p.pool.Query(ctx, `SELECT body FROM rpcmesh_usage_statements
		WHERE $1 = '' OR operator = $1 ORDER BY epoch_start DESC, operator LIMIT $2`, operator, limit)
	if err != nil {
		return nil, fmt.Errorf("usage store: read statements: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (json.RawMessage, error) {
		var s string
		err := row.Scan(&s)
		return json.RawMessage(s), err
	})
	if err != nil {
		return nil, fmt.Errorf("usage store: read statements: %w", err)
	}
	return out, nil
}
