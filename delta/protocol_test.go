package delta

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/lake/file"
)

// TestRefusesFeaturesByName: a table whose protocol needs deletion vectors or column mapping is
// refused by the feature's name for reading, writing and checkpointing, including by a writer
// that read the table before another engine raised its protocol; the version before still loads.
func TestRefusesFeaturesByName(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		feature, upgrade string
	}{
		{"deletionVectors", `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}`},
		{"columnMapping", `{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}` + "\n" +
			`{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{"delta.columnMapping.mode":"name"}}}`},
	} {
		t.Run(c.feature, func(t *testing.T) {
			st, err := file.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			tbl := Open(st, "t")
			tx := tbl.Begin(nil, "CREATE TABLE")
			tx.SetMetadata(&StructType{Fields: []StructField{{Name: "id", Type: DataType{Primitive: "long"}, Nullable: true}}}, nil, nil)
			tx.Add(Add{Path: "a.parquet", Size: 1, DataChange: true})
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			v0, err := tbl.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A writer reads version 0; then another engine raises the protocol at version 1.
			late := tbl.Begin(v0, "WRITE")
			late.Add(Add{Path: "b.parquet", Size: 1, DataChange: true})
			if err := st.PutIfAbsent(ctx, "t/_delta_log/"+CommitFileName(1), []byte(c.upgrade+"\n")); err != nil {
				t.Fatal(err)
			}
			refused := func(what string, err error) {
				t.Helper()
				var ue *UnsupportedError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.feature) {
					t.Errorf("%s: %v, want a refusal naming %s", what, err, c.feature)
				}
			}
			_, err = late.Commit(ctx)
			refused("the writer that read version 0", err)
			_, err = tbl.Latest(ctx)
			refused("reading", err)
			// A checkpoint of the upgraded state would drop what the feature keeps in the log.
			up := &Snapshot{Version: 1, Protocol: v0.Protocol, Metadata: v0.Metadata, table: tbl, files: map[string]FileEntry{}}
			acts, err := ParseActions([]byte(c.upgrade))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range acts {
				if a.Protocol != nil {
					up.Protocol = *a.Protocol
				}
				if a.MetaData != nil {
					up.Metadata = *a.MetaData
				}
			}
			refused("checkpointing", tbl.Checkpoint(ctx, up))
			if s, err := tbl.At(ctx, 0); err != nil || len(s.Files()) != 1 {
				t.Errorf("version 0 after the upgrade: %v", err)
			}
			if _, err := st.Stat(ctx, "t/_delta_log/"+CommitFileName(2)); err == nil {
				t.Error("a refused write left a commit")
			}
			if _, err := st.Stat(ctx, "t/_delta_log/00000000000000000001.checkpoint.parquet"); err == nil {
				t.Error("a refused checkpoint was written")
			}
		})
	}
}
