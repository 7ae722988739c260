package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lakehouse"
)

// AccessLogTable is the access audit: one row per read of data by a person or a token.
const AccessLogTable = "audit/access_log"

// Entry is one access-audit row. It says who read what, when, how many rows and whether
// unmasked PHI was in reach; it never holds the data, and holds a query only as a hash (a
// query's literals can themselves be PHI, e.g. WHERE ssn = '...').
type Entry struct {
	Time      time.Time
	Principal string
	Role      string
	Via       string // api, ui, sql, export, cli
	Action    string // e.g. "GET /api/kpi" or "query"
	Tables    []string
	Rows      int64
	PHI       bool   // unmasked PHI columns were readable in this access
	Status    string // ok, denied or error
	QueryHash string
	Client    string
}

// HashQuery is the hash an entry keeps of a query text.
func HashQuery(sql string) string {
	s := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(s[:])
}

// AuditLog buffers entries and appends them to audit.access_log in batches, so a busy
// dashboard writes one Delta commit every few seconds instead of one per request. Flush on
// shutdown; a crash loses at most the last interval's entries.
type AuditLog struct {
	Lake *lakehouse.Lakehouse
	mu   sync.Mutex
	buf  []Entry
	wmu  sync.Mutex
}

// Record queues an entry.
func (a *AuditLog) Record(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	a.mu.Lock()
	a.buf = append(a.buf, e)
	a.mu.Unlock()
}

// Flush appends the queued entries as one commit.
func (a *AuditLog) Flush(ctx context.Context) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.mu.Lock()
	batch := a.buf
	a.buf = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	rows := make([]string, len(batch))
	for i, e := range batch {
		rows[i] = fmt.Sprintf("(TIMESTAMPTZ %s, %s, %s, %s, %s, %s, CAST(%d AS BIGINT), %t, %s, %s, %s)",
			duckdb.Literal(e.Time.UTC().Format(time.RFC3339Nano)), duckdb.Literal(e.Principal), duckdb.Literal(e.Role),
			duckdb.Literal(e.Via), duckdb.Literal(e.Action), duckdb.Literal(strings.Join(e.Tables, ",")), e.Rows, e.PHI,
			duckdb.Literal(e.Status), duckdb.Literal(e.QueryHash), duckdb.Literal(e.Client))
	}
	q := "SELECT * FROM (VALUES " + strings.Join(rows, ", ") +
		") AS t(event_time, principal, role, via, action, tables, row_count, phi, status, query_sha256, client)"
	tbl := delta.Open(a.Lake.Store, AccessLogTable)
	if _, err := a.Lake.Engine.AppendDelta(ctx, tbl, q, duckdb.WriteOptions{Operation: "WRITE"}); err != nil {
		a.mu.Lock()
		a.buf = append(batch, a.buf...) // keep them for the next flush
		a.mu.Unlock()
		return fmt.Errorf("audit.access_log: %w", err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (a *AuditLog) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.Flush(context.WithoutCancel(ctx)); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
