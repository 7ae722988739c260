package delta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// Reader features rcmlake reads correctly. vacuumProtocolCheck asks nothing of readers.
var supportedReaderFeatures = map[string]bool{"vacuumProtocolCheck": true}

// Writer features rcmlake honours when it writes (writer version 2 and its two features).
var supportedWriterFeatures = map[string]bool{"appendOnly": true, "invariants": true}

// UnsupportedError says that a table needs a feature rcmlake does not implement. It names
// the feature, so that the user knows which table property to change.
type UnsupportedError struct {
	Table    string
	Features []string
	Write    bool
}

func (e *UnsupportedError) Error() string {
	what := "read"
	if e.Write {
		what = "write"
	}
	return fmt.Sprintf("delta %s: cannot %s this table: it needs %s, which rcmlake does not support; rcmlake reads tables of reader version 1 and writes writer version 2 (see docs/DELTA.md)",
		e.Table, what, strings.Join(e.Features, ", "))
}

// FileEntry is an active data file.
type FileEntry struct {
	Add
	// Key is the file's key in the lake (the decoded path joined to the table root).
	Key string
}

// Snapshot is the state of a table at one version.
type Snapshot struct {
	Version   int64
	Protocol  Protocol
	Metadata  Metadata
	Schema    *StructType
	Timestamp time.Time // the commit time of Version

	files      map[string]FileEntry // by canonical path
	tombstones map[string]Remove
	txns       map[string]Txn
	table      *Table
}

// Files returns the active data files, sorted by path.
func (s *Snapshot) Files() []FileEntry {
	out := make([]FileEntry, 0, len(s.files))
	for _, f := range s.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Tombstones returns the removed files still remembered by the log.
func (s *Snapshot) Tombstones() []Remove {
	out := make([]Remove, 0, len(s.tombstones))
	for _, r := range s.tombstones {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// TxnVersion is the latest version committed by an application, if any.
func (s *Snapshot) TxnVersion(appID string) (int64, bool) {
	t, ok := s.txns[appID]
	return t.Version, ok
}

// Txns returns every application transaction, by app id.
func (s *Snapshot) Txns() map[string]Txn {
	out := make(map[string]Txn, len(s.txns))
	for k, v := range s.txns {
		out[k] = v
	}
	return out
}

// NumRecords sums numRecords over the files' stats; ok is false if a file has no stats.
func (s *Snapshot) NumRecords() (n int64, ok bool) {
	ok = true
	for _, f := range s.files {
		st, err := ParseStats(f.Stats)
		if err != nil || st == nil {
			ok = false
			continue
		}
		n += st.NumRecords
	}
	return n, ok
}

// Table is the table this snapshot belongs to.
func (s *Snapshot) Table() *Table { return s.table }

// canonicalPath is how add and remove paths are matched: decoded once, with file: URIs and
// relative paths compared alike.
func canonicalPath(p string) string {
	if d, err := url.PathUnescape(p); err == nil {
		p = d
	}
	p = strings.TrimPrefix(p, "file://")
	p = strings.TrimPrefix(p, "file:")
	return p
}

// Latest loads the newest snapshot.
func (t *Table) Latest(ctx context.Context) (*Snapshot, error) { return t.load(ctx, -1) }

// At loads the snapshot at version v.
func (t *Table) At(ctx context.Context, v int64) (*Snapshot, error) {
	if v < 0 {
		return nil, fmt.Errorf("delta %s: version %d does not exist: versions start at 0", t.Location(), v)
	}
	return t.load(ctx, v)
}

// Exists reports whether the folder holds a Delta table.
func (t *Table) Exists(ctx context.Context) (bool, error) {
	l, err := t.list(ctx)
	if err != nil {
		return false, err
	}
	_, ok := l.latest()
	return ok, nil
}

func (t *Table) load(ctx context.Context, want int64) (*Snapshot, error) {
	l, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	latest, ok := l.latest()
	if !ok {
		return nil, fmt.Errorf("delta %s: %w", t.Location(), ErrNotATable)
	}
	if want < 0 {
		want = latest
	}
	if want > latest {
		return nil, fmt.Errorf("delta %s: version %d does not exist: the latest version is %d", t.Location(), want, latest)
	}
	// Start from the newest complete checkpoint at or below the version.
	start := int64(-1)
	var parts []logFile
	var cps []int64
	for v := range l.checkpoints {
		if v <= want {
			cps = append(cps, v)
		}
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i] > cps[j] })
	for _, v := range cps {
		if p := l.completeCheckpoint(v); p != nil {
			start, parts = v, p
			break
		}
	}
	if l.v2[want] || (start < 0 && len(l.v2) > 0) {
		// A v2 checkpoint means the table uses the v2Checkpoint feature; the protocol check
		// below names it once the protocol is known. Without a classic checkpoint or a full
		// log it cannot even be replayed.
		if _, ok := l.commits[0]; !ok && start < 0 {
			return nil, &UnsupportedError{Table: t.Location(), Features: []string{"v2Checkpoint"}}
		}
	}
	s := &Snapshot{Version: want, files: map[string]FileEntry{}, tombstones: map[string]Remove{}, txns: map[string]Txn{}, table: t}
	var proto *Protocol
	var meta *Metadata
	apply := func(a Action) {
		switch {
		case a.Protocol != nil:
			proto = a.Protocol
		case a.MetaData != nil:
			meta = a.MetaData
		case a.Add != nil:
			p := canonicalPath(a.Add.Path)
			s.files[p] = FileEntry{Add: *a.Add, Key: t.dataKey(a.Add.Path)}
			delete(s.tombstones, p)
		case a.Remove != nil:
			p := canonicalPath(a.Remove.Path)
			delete(s.files, p)
			s.tombstones[p] = *a.Remove
		case a.Txn != nil:
			s.txns[a.Txn.AppID] = *a.Txn
		}
	}
	if start >= 0 {
		actions, err := t.readCheckpoint(ctx, parts)
		if err != nil {
			return nil, fmt.Errorf("delta %s: checkpoint %d: %w", t.Location(), start, err)
		}
		for _, a := range actions {
			apply(a)
		}
		if proto == nil {
			return nil, fmt.Errorf("delta %s: the checkpoint at version %d has no protocol action", t.Location(), start)
		}
		if meta == nil {
			return nil, fmt.Errorf("delta %s: the checkpoint at version %d has no metadata action", t.Location(), start)
		}
	}
	// Then every commit after it, which must be contiguous.
	for v := start + 1; v <= want; v++ {
		f, ok := l.commits[v]
		if !ok {
			if start < 0 && v == 0 {
				first := firstVersion(l)
				return nil, fmt.Errorf("delta %s: version %d cannot be reconstructed: commit 0 is missing and no checkpoint covers it (no reproducible history; earliest commit is %d)", t.Location(), want, first)
			}
			return nil, fmt.Errorf("delta %s: versions are not contiguous: commit %d is missing between %d and %d", t.Location(), v, start, want)
		}
		data, err := lake.ReadAll(ctx, t.store, t.logKey(f.name))
		if err != nil {
			return nil, fmt.Errorf("delta %s: reading commit %d: %w", t.Location(), v, err)
		}
		actions, err := ParseActions(data)
		if err != nil {
			return nil, fmt.Errorf("delta %s: commit %d: %w", t.Location(), v, err)
		}
		for _, a := range actions {
			apply(a)
			if a.CommitInfo != nil && a.CommitInfo.InCommitTimestamp != nil && v == want {
				s.Timestamp = time.UnixMilli(*a.CommitInfo.InCommitTimestamp).UTC()
			}
		}
		if v == want && s.Timestamp.IsZero() {
			s.Timestamp = f.modTime.UTC()
		}
	}
	// Versions above the one asked for must not have gaps either: a gap anywhere in the
	// listed log means the log is damaged.
	if err := checkContiguous(t, l, start); err != nil {
		return nil, err
	}
	if proto == nil {
		return nil, fmt.Errorf("delta %s: no protocol action found at version %d: the log is incomplete", t.Location(), want)
	}
	if meta == nil {
		return nil, fmt.Errorf("delta %s: no metadata action found at version %d: the log is incomplete", t.Location(), want)
	}
	s.Protocol, s.Metadata = *proto, *meta
	if err := checkReadable(t.Location(), s.Protocol, s.Metadata); err != nil {
		return nil, err
	}
	if s.Metadata.SchemaString != "" {
		if s.Schema, err = s.Metadata.Schema(); err != nil {
			return nil, fmt.Errorf("delta %s: %w", t.Location(), err)
		}
	}
	for _, f := range s.files {
		if f.DeletionVector != nil {
			return nil, &UnsupportedError{Table: t.Location(), Features: []string{"deletionVectors"}}
		}
	}
	return s, nil
}

func firstVersion(l *logListing) int64 {
	first := int64(-1)
	for v := range l.commits {
		if first < 0 || v < first {
			first = v
		}
	}
	return first
}

func checkContiguous(t *Table, l *logListing, from int64) error {
	var vs []int64
	for v := range l.commits {
		if v > from {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	for i := 1; i < len(vs); i++ {
		if vs[i] != vs[i-1]+1 {
			return fmt.Errorf("delta %s: versions are not contiguous: %d is followed by %d", t.Location(), vs[i-1], vs[i])
		}
	}
	if from < 0 && len(vs) > 0 && vs[0] != 0 && len(l.checkpoints) == 0 {
		return fmt.Errorf("delta %s: versions are not contiguous: the log starts at %d with no checkpoint", t.Location(), vs[0])
	}
	return nil
}

// checkReadable refuses protocols and features rcmlake cannot read correctly.
func checkReadable(table string, p Protocol, m Metadata) error {
	switch {
	case p.MinReaderVersion <= 1:
	case p.MinReaderVersion == 2:
		return &UnsupportedError{Table: table, Features: []string{"columnMapping (reader version 2)"}}
	case p.MinReaderVersion == 3:
		var bad []string
		for _, f := range p.ReaderFeatures {
			if !supportedReaderFeatures[f] {
				bad = append(bad, f)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return &UnsupportedError{Table: table, Features: bad}
		}
	default:
		return fmt.Errorf("delta %s: invalid protocol version: reader version %d, writer version %d; rcmlake reads reader versions 1 to 3", table, p.MinReaderVersion, p.MinWriterVersion)
	}
	if mode := m.Configuration["delta.columnMapping.mode"]; mode != "" && mode != "none" {
		return &UnsupportedError{Table: table, Features: []string{"columnMapping (mode " + mode + ")"}}
	}
	return nil
}

// checkWritable refuses to write tables whose writer features rcmlake does not honour.
func checkWritable(table string, p Protocol, m Metadata) error {
	if err := checkReadable(table, p, m); err != nil {
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			ue.Write = true
		}
		return err
	}
	switch {
	case p.MinWriterVersion <= 2:
		return nil
	case p.MinWriterVersion == 7:
		var bad []string
		for _, f := range p.WriterFeatures {
			if !supportedWriterFeatures[f] {
				bad = append(bad, f)
			}
		}
		if len(bad) == 0 {
			return nil
		}
		sort.Strings(bad)
		return &UnsupportedError{Table: table, Features: bad, Write: true}
	default:
		return &UnsupportedError{Table: table, Features: []string{fmt.Sprintf("writer version %d", p.MinWriterVersion)}, Write: true}
	}
}

// dataKey turns an add/remove path (a URI relative to the table, or absolute) into a key.
func (t *Table) dataKey(p string) string {
	d := canonicalPath(p)
	if strings.HasPrefix(d, "/") {
		// An absolute path: only meaningful if it lies under the storage root.
		if lp, ok := t.store.(lake.LocalPather); ok {
			rootDir := strings.TrimSuffix(lp.LocalPath(""), "/")
			if strings.HasPrefix(d, rootDir+"/") {
				return strings.TrimPrefix(d, rootDir+"/")
			}
		}
		return d
	}
	return t.key(d)
}
