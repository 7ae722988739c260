package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/rcmlake/rcmlake/lake"
)

// The checkpoint row, in the shape Spark writes and reads: one struct column per action,
// exactly one set per row. Reading maps columns by name, so extra columns that other writers
// add (stats_parsed, tags, deletionVector, ...) are ignored.
type ckptRow struct {
	Txn      *ckptTxn      `parquet:"txn,optional"`
	Add      *ckptAdd      `parquet:"add,optional"`
	Remove   *ckptRemove   `parquet:"remove,optional"`
	MetaData *ckptMetadata `parquet:"metaData,optional"`
	Protocol *ckptProtocol `parquet:"protocol,optional"`
}

type ckptTxn struct {
	AppID       *string `parquet:"appId,optional"`
	Version     int64   `parquet:"version"`
	LastUpdated *int64  `parquet:"lastUpdated,optional"`
}

type ckptDV struct {
	StorageType    *string `parquet:"storageType,optional"`
	PathOrInlineDv *string `parquet:"pathOrInlineDv,optional"`
	Offset         *int32  `parquet:"offset,optional"`
	SizeInBytes    int32   `parquet:"sizeInBytes"`
	Cardinality    int64   `parquet:"cardinality"`
}

type ckptAdd struct {
	Path             *string            `parquet:"path,optional"`
	PartitionValues  map[string]*string `parquet:"partitionValues,optional"`
	Size             int64              `parquet:"size"`
	ModificationTime int64              `parquet:"modificationTime"`
	DataChange       bool               `parquet:"dataChange"`
	Stats            *string            `parquet:"stats,optional"`
	Tags             map[string]*string `parquet:"tags,optional"`
	DeletionVector   *ckptDV            `parquet:"deletionVector,optional"`
}

type ckptRemove struct {
	Path                 *string            `parquet:"path,optional"`
	DeletionTimestamp    *int64             `parquet:"deletionTimestamp,optional"`
	DataChange           bool               `parquet:"dataChange"`
	ExtendedFileMetadata *bool              `parquet:"extendedFileMetadata,optional"`
	PartitionValues      map[string]*string `parquet:"partitionValues,optional"`
	Size                 *int64             `parquet:"size,optional"`
	DeletionVector       *ckptDV            `parquet:"deletionVector,optional"`
}

type ckptFormat struct {
	Provider *string            `parquet:"provider,optional"`
	Options  map[string]*string `parquet:"options,optional"`
}

type ckptMetadata struct {
	ID               *string            `parquet:"id,optional"`
	Name             *string            `parquet:"name,optional"`
	Description      *string            `parquet:"description,optional"`
	Format           *ckptFormat        `parquet:"format,optional"`
	SchemaString     *string            `parquet:"schemaString,optional"`
	PartitionColumns []string           `parquet:"partitionColumns,optional,list"`
	Configuration    map[string]*string `parquet:"configuration,optional"`
	CreatedTime      *int64             `parquet:"createdTime,optional"`
}

type ckptProtocol struct {
	MinReaderVersion int32    `parquet:"minReaderVersion"`
	MinWriterVersion int32    `parquet:"minWriterVersion"`
	ReaderFeatures   []string `parquet:"readerFeatures,optional,list"`
	WriterFeatures   []string `parquet:"writerFeatures,optional,list"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func strMap(m map[string]*string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return out
}

func (t *Table) readCheckpoint(ctx context.Context, parts []logFile) ([]Action, error) {
	var out []Action
	for _, p := range parts {
		data, err := lake.ReadAll(ctx, t.store, t.logKey(p.name))
		if err != nil {
			return nil, err
		}
		acts, err := ParseCheckpoint(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out = append(out, acts...)
	}
	return out, nil
}

// ParseCheckpoint reads the actions of one classic checkpoint Parquet file.
func ParseCheckpoint(data []byte) (acts []Action, err error) {
	defer func() {
		// parquet-go panics on some malformed inputs; a damaged checkpoint is an error.
		if r := recover(); r != nil {
			acts, err = nil, fmt.Errorf("malformed checkpoint: %v", r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a Parquet file: %w", err)
	}
	if err := checkPages(f, data); err != nil {
		return nil, fmt.Errorf("malformed checkpoint: %w", err)
	}
	r := parquet.NewGenericReader[ckptRow](f)
	defer r.Close()
	buf := make([]ckptRow, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			if a, ok := row.action(); ok {
				acts = append(acts, a)
			}
		}
		if err == io.EOF {
			return acts, nil
		}
		if err != nil {
			return nil, err
		}
		clear(buf)
	}
}

func (row ckptRow) action() (Action, bool) {
	switch {
	case row.Add != nil && row.Add.Path != nil:
		a := row.Add
		add := &Add{Path: *a.Path, PartitionValues: a.PartitionValues, Size: a.Size, ModificationTime: a.ModificationTime,
			DataChange: a.DataChange, Stats: str(a.Stats), Tags: strMap(a.Tags)}
		if a.DeletionVector != nil && a.DeletionVector.StorageType != nil {
			add.DeletionVector = &DeletionVector{StorageType: *a.DeletionVector.StorageType, Cardinality: a.DeletionVector.Cardinality}
		}
		return Action{Add: add}, true
	case row.Remove != nil && row.Remove.Path != nil:
		r := row.Remove
		rm := &Remove{Path: *r.Path, DeletionTimestamp: r.DeletionTimestamp, DataChange: r.DataChange,
			PartitionValues: r.PartitionValues, Size: r.Size}
		if r.ExtendedFileMetadata != nil {
			rm.ExtendedFileMetadata = *r.ExtendedFileMetadata
		}
		return Action{Remove: rm}, true
	case row.MetaData != nil && row.MetaData.ID != nil:
		m := row.MetaData
		md := &Metadata{ID: *m.ID, Name: str(m.Name), Description: str(m.Description), SchemaString: str(m.SchemaString),
			PartitionColumns: m.PartitionColumns, Configuration: strMap(m.Configuration), CreatedTime: m.CreatedTime}
		if m.Format != nil {
			md.Format = Format{Provider: str(m.Format.Provider), Options: strMap(m.Format.Options)}
		}
		return Action{MetaData: md}, true
	case row.Protocol != nil && (row.Protocol.MinReaderVersion > 0 || row.Protocol.MinWriterVersion > 0):
		p := row.Protocol
		return Action{Protocol: &Protocol{MinReaderVersion: int(p.MinReaderVersion), MinWriterVersion: int(p.MinWriterVersion),
			ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}}, true
	case row.Txn != nil && row.Txn.AppID != nil:
		return Action{Txn: &Txn{AppID: *row.Txn.AppID, Version: row.Txn.Version, LastUpdated: row.Txn.LastUpdated}}, true
	}
	return Action{}, false
}

func ptr[T any](v T) *T { return &v }

func ptrMap(m map[string]string) map[string]*string {
	if m == nil {
		return map[string]*string{}
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ptr(v)
	}
	return out
}

// encodeCheckpoint renders a snapshot as a single-part checkpoint: protocol, metadata, every
// txn, every active file and the tombstones still within retention.
func encodeCheckpoint(s *Snapshot, tombstonesAfter int64) ([]byte, int, error) {
	var rows []ckptRow
	p := s.Protocol
	rows = append(rows, ckptRow{Protocol: &ckptProtocol{MinReaderVersion: int32(p.MinReaderVersion), MinWriterVersion: int32(p.MinWriterVersion),
		ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}})
	m := s.Metadata
	rows = append(rows, ckptRow{MetaData: &ckptMetadata{ID: ptr(m.ID), Name: optStr(m.Name), Description: optStr(m.Description),
		Format:       &ckptFormat{Provider: ptr(orDefault(m.Format.Provider, "parquet")), Options: ptrMap(m.Format.Options)},
		SchemaString: ptr(m.SchemaString), PartitionColumns: nonNil(m.PartitionColumns), Configuration: ptrMap(m.Configuration),
		CreatedTime: m.CreatedTime}})
	appIDs := make([]string, 0, len(s.txns))
	for id := range s.txns {
		appIDs = append(appIDs, id)
	}
	sort.Strings(appIDs)
	for _, id := range appIDs {
		x := s.txns[id]
		rows = append(rows, ckptRow{Txn: &ckptTxn{AppID: ptr(x.AppID), Version: x.Version, LastUpdated: x.LastUpdated}})
	}
	for _, f := range s.Files() {
		rows = append(rows, ckptRow{Add: &ckptAdd{Path: ptr(f.Path), PartitionValues: nonNilPV(f.PartitionValues), Size: f.Size,
			ModificationTime: f.ModificationTime, DataChange: false, Stats: optStr(f.Stats)}})
	}
	for _, r := range s.Tombstones() {
		if r.DeletionTimestamp != nil && *r.DeletionTimestamp < tombstonesAfter {
			continue
		}
		rows = append(rows, ckptRow{Remove: &ckptRemove{Path: ptr(r.Path), DeletionTimestamp: r.DeletionTimestamp, DataChange: false,
			ExtendedFileMetadata: ptr(r.ExtendedFileMetadata), PartitionValues: r.PartitionValues, Size: r.Size}})
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[ckptRow](&buf, parquet.Compression(&snappy.Codec{}))
	if _, err := w.Write(rows); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), len(rows), nil
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilPV(m map[string]*string) map[string]*string {
	if m == nil {
		return map[string]*string{}
	}
	return m
}

// Checkpoint writes a checkpoint of the snapshot and points _last_checkpoint at it. A
// checkpoint that already exists is left alone (another writer made the same one). A table
// with writer features rcmlake does not honour is refused: its checkpoint would drop what
// those features keep in the log (deletion vectors, row ids).
func (t *Table) Checkpoint(ctx context.Context, s *Snapshot) error {
	if err := checkWritable(t.Location(), s.Protocol, s.Metadata); err != nil {
		return err
	}
	retention := tombstoneRetention(s.Metadata)
	data, n, err := encodeCheckpoint(s, t.Clock().Add(-retention).UnixMilli())
	if err != nil {
		return fmt.Errorf("delta %s: writing checkpoint %d: %w", t.Location(), s.Version, err)
	}
	name := fmt.Sprintf("%020d.checkpoint.parquet", s.Version)
	if err := t.store.PutIfAbsent(ctx, t.logKey(name), data); err != nil && !isExists(err) {
		return fmt.Errorf("delta %s: writing checkpoint %d: %w", t.Location(), s.Version, err)
	}
	hint, _ := json.Marshal(map[string]int64{"version": s.Version, "size": int64(n)})
	// _last_checkpoint is a hint that may be overwritten; never move it backwards.
	if prev, ok := t.lastCheckpointHint(ctx); ok && prev > s.Version {
		return nil
	}
	if err := t.store.Put(ctx, t.logKey("_last_checkpoint"), bytes.NewReader(hint)); err != nil {
		return fmt.Errorf("delta %s: writing _last_checkpoint: %w", t.Location(), err)
	}
	return nil
}
