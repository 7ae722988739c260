package delta

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// EngineInfo is written into every commit's commitInfo.
var EngineInfo = "rcmlake/dev"

// CheckpointInterval is how many commits pass between checkpoints (Spark's default is 10);
// a table property delta.checkpointInterval overrides it.
const CheckpointInterval = 10

// ErrConflict is returned (wrapped) when a concurrent commit changed what this one depended on.
var ErrConflict = errors.New("concurrent commit conflict")

// ErrAlreadyCommitted is returned (wrapped) when the transaction's (appId, version) was
// already committed: the write is a no-op.
var ErrAlreadyCommitted = errors.New("already committed")

func isExists(err error) bool { return errors.Is(err, lake.ErrExists) }

// Transaction collects the actions of one commit.
type Transaction struct {
	table     *Table
	read      *Snapshot // nil when creating the table
	operation string
	params    map[string]any
	metrics   map[string]string
	protocol  *Protocol
	metadata  *Metadata
	adds      []Add
	removes   []Remove
	txns      []Txn
	readFiles map[string]bool // files this transaction read; removing them elsewhere conflicts
	blind     bool            // append that read nothing
	// MaxRetries bounds the retries after lost races.
	MaxRetries int
}

// Begin starts a transaction on top of a snapshot (nil for a new table).
func (t *Table) Begin(read *Snapshot, operation string) *Transaction {
	return &Transaction{table: t, read: read, operation: operation, params: map[string]any{}, metrics: map[string]string{},
		readFiles: map[string]bool{}, MaxRetries: 50}
}

// Create sets the protocol and metadata of a new table (or replaces the metadata).
func (tx *Transaction) SetMetadata(schema *StructType, partitionColumns []string, configuration map[string]string) {
	m := Metadata{ID: newUUID(), Format: Format{Provider: "parquet", Options: map[string]string{}},
		SchemaString: schema.String(), PartitionColumns: nonNil(partitionColumns), Configuration: configuration,
		CreatedTime: ptr(tx.table.Clock().UnixMilli())}
	if m.Configuration == nil {
		m.Configuration = map[string]string{}
	}
	if tx.read != nil {
		m.ID = tx.read.Metadata.ID
		m.CreatedTime = tx.read.Metadata.CreatedTime
	}
	tx.metadata = &m
	if tx.read == nil {
		tx.protocol = &Protocol{MinReaderVersion: 1, MinWriterVersion: 2}
	}
}

// Add adds data files.
func (tx *Transaction) Add(files ...Add) { tx.adds = append(tx.adds, files...) }

// Remove removes active files (by their log path), recording that this transaction read them.
func (tx *Transaction) Remove(files ...FileEntry) {
	now := tx.table.Clock().UnixMilli()
	for _, f := range files {
		size := f.Size
		tx.removes = append(tx.removes, Remove{Path: f.Path, DeletionTimestamp: ptr(now), DataChange: true,
			ExtendedFileMetadata: true, PartitionValues: f.PartitionValues, Size: &size})
		tx.readFiles[canonicalPath(f.Path)] = true
	}
}

// ReadFiles records files the transaction's output depends on without removing them.
func (tx *Transaction) ReadFiles(files ...FileEntry) {
	for _, f := range files {
		tx.readFiles[canonicalPath(f.Path)] = true
	}
}

// SetTxn makes the commit idempotent: if appID already committed version or later, Commit
// returns ErrAlreadyCommitted and writes nothing.
func (tx *Transaction) SetTxn(appID string, version int64) {
	tx.txns = append(tx.txns, Txn{AppID: appID, Version: version, LastUpdated: ptr(tx.table.Clock().UnixMilli())})
}

func (tx *Transaction) hasTxn(appID string) *Txn {
	for i := range tx.txns {
		if tx.txns[i].AppID == appID {
			return &tx.txns[i]
		}
	}
	return nil
}

// Param records an operation parameter (shown by history).
func (tx *Transaction) Param(k string, v any) { tx.params[k] = v }

// Metric records an operation metric (shown by history).
func (tx *Transaction) Metric(k string, v int64) { tx.metrics[k] = strconv.FormatInt(v, 10) }

// BlindAppend marks an append that depends on nothing it read; it never conflicts.
func (tx *Transaction) BlindAppend() { tx.blind = true }

// Commit writes the next version. On a lost race it reads the winning commits, checks them for
// a real conflict, and retries at the next version. It returns the committed version.
func (tx *Transaction) Commit(ctx context.Context) (int64, error) {
	t := tx.table
	readVersion := int64(-1)
	if tx.read != nil {
		readVersion = tx.read.Version
		if err := checkWritable(t.Location(), tx.read.Protocol, tx.read.Metadata); err != nil {
			return 0, err
		}
		if tx.read.Metadata.Configuration["delta.appendOnly"] == "true" && len(tx.removes) > 0 {
			return 0, fmt.Errorf("delta %s: the table is append-only (delta.appendOnly=true); %s may not remove files", t.Location(), tx.operation)
		}
		for _, x := range tx.txns {
			if v, ok := tx.read.TxnVersion(x.AppID); ok && v >= x.Version {
				return 0, fmt.Errorf("delta %s: %s: txn %s version %d: %w", t.Location(), tx.operation, x.AppID, x.Version, ErrAlreadyCommitted)
			}
		}
	} else if tx.metadata == nil {
		return 0, fmt.Errorf("delta %s: a new table needs a schema", t.Location())
	}
	version := readVersion + 1
	for attempt := 0; ; attempt++ {
		data, err := tx.encode(readVersion)
		if err != nil {
			return 0, err
		}
		err = t.store.PutIfAbsent(ctx, t.logKey(CommitFileName(version)), data)
		if err == nil {
			tx.afterCommit(ctx, version)
			return version, nil
		}
		if !isExists(err) {
			return 0, fmt.Errorf("delta %s: writing commit %d: %w", t.Location(), version, err)
		}
		if attempt >= tx.MaxRetries {
			return 0, fmt.Errorf("delta %s: gave up after %d lost races: %w", t.Location(), attempt+1, ErrConflict)
		}
		// Someone else committed this version: see whether it conflicts with us.
		if err := tx.checkConflict(ctx, version); err != nil {
			return 0, err
		}
		version++
		// Versions beyond may also be taken; find the next free one quickly.
		for {
			if _, err := t.store.Stat(ctx, t.logKey(CommitFileName(version))); err != nil {
				break
			}
			if err := tx.checkConflict(ctx, version); err != nil {
				return 0, err
			}
			version++
		}
	}
}

// checkConflict reads a winning commit and fails if it invalidates this transaction.
func (tx *Transaction) checkConflict(ctx context.Context, v int64) error {
	t := tx.table
	data, err := lake.ReadAll(ctx, t.store, t.logKey(CommitFileName(v)))
	if err != nil {
		return fmt.Errorf("delta %s: reading concurrent commit %d: %w", t.Location(), v, err)
	}
	acts, err := ParseActions(data)
	if err != nil {
		return fmt.Errorf("delta %s: concurrent commit %d: %w", t.Location(), v, err)
	}
	for _, a := range acts {
		switch {
		case a.Protocol != nil:
			// Another engine raised the protocol under this writer (Spark enabling deletion
			// vectors): say which feature rcmlake lacks, rather than a retryable conflict.
			md := tx.metadata
			if md == nil && tx.read != nil {
				md = &tx.read.Metadata
			}
			for _, b := range acts {
				if b.MetaData != nil {
					md = b.MetaData
				}
			}
			if md != nil {
				if err := checkWritable(t.Location(), *a.Protocol, *md); err != nil {
					return err
				}
			}
			return fmt.Errorf("delta %s: version %d changed the protocol: %w", t.Location(), v, ErrConflict)
		case a.MetaData != nil:
			if tx.read == nil {
				return fmt.Errorf("delta %s: the table was created concurrently (version %d): %w", t.Location(), v, ErrConflict)
			}
			return fmt.Errorf("delta %s: version %d changed the table's metadata: %w", t.Location(), v, ErrConflict)
		case a.Txn != nil && tx.hasTxn(a.Txn.AppID) != nil:
			mine := tx.hasTxn(a.Txn.AppID)
			if a.Txn.Version >= mine.Version {
				return fmt.Errorf("delta %s: txn %s version %d: %w", t.Location(), a.Txn.AppID, mine.Version, ErrAlreadyCommitted)
			}
			return fmt.Errorf("delta %s: version %d was committed by the same application %s: %w", t.Location(), v, a.Txn.AppID, ErrConflict)
		case a.Remove != nil && !tx.blind && tx.readFiles[canonicalPath(a.Remove.Path)]:
			return fmt.Errorf("delta %s: version %d removed %s, which this %s read: %w", t.Location(), v, a.Remove.Path, tx.operation, ErrConflict)
		}
	}
	return nil
}

func (tx *Transaction) encode(readVersion int64) ([]byte, error) {
	now := tx.table.Clock()
	var numFiles, numRows, bytes int64
	for _, a := range tx.adds {
		numFiles++
		bytes += a.Size
		if st, err := ParseStats(a.Stats); err == nil && st != nil {
			numRows += st.NumRecords
		}
	}
	metrics := map[string]string{}
	for k, v := range tx.metrics {
		metrics[k] = v
	}
	if _, ok := metrics["numFiles"]; !ok && len(tx.adds) > 0 {
		metrics["numFiles"] = strconv.FormatInt(numFiles, 10)
		metrics["numOutputRows"] = strconv.FormatInt(numRows, 10)
		metrics["numOutputBytes"] = strconv.FormatInt(bytes, 10)
	}
	if len(tx.removes) > 0 {
		metrics["numRemovedFiles"] = strconv.Itoa(len(tx.removes))
	}
	params := map[string]any{}
	for k, v := range tx.params {
		params[k] = v
	}
	ci := &CommitInfo{Timestamp: now.UnixMilli(), Operation: tx.operation, OperationParameters: params,
		IsolationLevel: "Serializable", IsBlindAppend: ptr(tx.blind && len(tx.removes) == 0),
		OperationMetrics: metrics, EngineInfo: EngineInfo, TxnID: newUUID()}
	if readVersion >= 0 {
		ci.ReadVersion = &readVersion
	}
	acts := []Action{{CommitInfo: ci}}
	if tx.protocol != nil {
		acts = append(acts, Action{Protocol: tx.protocol})
	}
	if tx.metadata != nil {
		acts = append(acts, Action{MetaData: tx.metadata})
	}
	for i := range tx.txns {
		acts = append(acts, Action{Txn: &tx.txns[i]})
	}
	for i := range tx.removes {
		acts = append(acts, Action{Remove: &tx.removes[i]})
	}
	for i := range tx.adds {
		a := tx.adds[i]
		if a.PartitionValues == nil {
			a.PartitionValues = map[string]*string{}
		}
		acts = append(acts, Action{Add: &a})
	}
	return MarshalActions(acts)
}

// afterCommit writes a checkpoint when the interval is reached. A failed checkpoint is not
// an error of the commit: the next reader replays the JSON instead.
func (tx *Transaction) afterCommit(ctx context.Context, version int64) {
	interval := int64(CheckpointInterval)
	md := tx.metadata
	if md == nil && tx.read != nil {
		md = &tx.read.Metadata
	}
	if md != nil {
		if v, err := strconv.ParseInt(md.Configuration["delta.checkpointInterval"], 10, 64); err == nil && v > 0 {
			interval = v
		}
	}
	if version == 0 || version%interval != 0 {
		return
	}
	s, err := tx.table.At(ctx, version)
	if err == nil && tx.table.Checkpoint(ctx, s) == nil {
		// With a fresh checkpoint, log files past the log retention can go (as Spark does).
		_, _ = tx.table.CleanupLog(ctx)
	}
}

// tombstoneRetention is delta.deletedFileRetentionDuration, default 7 days.
func tombstoneRetention(m Metadata) time.Duration {
	return parseInterval(m.Configuration["delta.deletedFileRetentionDuration"], 7*24*time.Hour)
}

// logRetention is delta.logRetentionDuration, default 30 days.
func logRetention(m Metadata) time.Duration {
	return parseInterval(m.Configuration["delta.logRetentionDuration"], 30*24*time.Hour)
}

// parseInterval reads Spark's "interval 7 days" form (and Go durations).
func parseInterval(s string, def time.Duration) time.Duration {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return def
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	f := strings.Fields(strings.TrimPrefix(s, "interval"))
	if len(f) != 2 {
		return def
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return def
	}
	unit := map[string]time.Duration{"millisecond": time.Millisecond, "second": time.Second, "minute": time.Minute,
		"hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}
	u, ok := unit[strings.TrimSuffix(f[1], "s")]
	if !ok {
		return def
	}
	return time.Duration(n) * u
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewDataFileName is a unique data file name, as Spark names them.
func NewDataFileName(n int, codec string) string {
	return fmt.Sprintf("part-%05d-%s-c000.%s.parquet", n, newUUID(), codec)
}
