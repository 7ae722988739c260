// Package delta implements the Delta Lake transaction log: reader version 1 and writer
// version 2, the versions Spark creates by default, over any lake.Storage.
//
// A table is a folder with a _delta_log of numbered JSON commits and Parquet checkpoints.
// Snapshot replays the log into the set of active data files; Transaction commits a new
// version with put-if-absent, so that concurrent writers never overwrite each other. The
// package reads and writes the log only; the data files are read and written by an engine.
package delta

import (
	"encoding/json"
	"fmt"
)

// Protocol is the protocol action: the reader and writer versions a table requires.
type Protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// Format is the data file format of a table.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// Metadata is the metaData action.
type Metadata struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

// Schema parses the table schema.
func (m *Metadata) Schema() (*StructType, error) {
	if m.SchemaString == "" {
		return nil, fmt.Errorf("delta: metaData has no schemaString")
	}
	return ParseSchema(m.SchemaString)
}

// DeletionVector describes deleted rows of a file; rcmlake does not read them and refuses
// tables that need them.
type DeletionVector struct {
	StorageType string `json:"storageType"`
	Cardinality int64  `json:"cardinality"`
}

// Add adds a data file to the table.
type Add struct {
	Path             string             `json:"path"`
	PartitionValues  map[string]*string `json:"partitionValues"`
	Size             int64              `json:"size"`
	ModificationTime int64              `json:"modificationTime"`
	DataChange       bool               `json:"dataChange"`
	Stats            string             `json:"stats,omitempty"`
	Tags             map[string]string  `json:"tags,omitempty"`
	DeletionVector   *DeletionVector    `json:"deletionVector,omitempty"`
}

// Remove removes a data file; it stays as a tombstone until VACUUM may delete the file.
type Remove struct {
	Path                 string             `json:"path"`
	DeletionTimestamp    *int64             `json:"deletionTimestamp,omitempty"`
	DataChange           bool               `json:"dataChange"`
	ExtendedFileMetadata bool               `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]*string `json:"partitionValues,omitempty"`
	Size                 *int64             `json:"size,omitempty"`
	DeletionVector       *DeletionVector    `json:"deletionVector,omitempty"`
}

// Txn records the latest version an application committed, for idempotent writes.
type Txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// CommitInfo is provenance: who committed what and why. Readers ignore its content.
type CommitInfo struct {
	Timestamp           int64             `json:"timestamp"`
	InCommitTimestamp   *int64            `json:"inCommitTimestamp,omitempty"`
	Operation           string            `json:"operation"`
	OperationParameters map[string]any    `json:"operationParameters,omitempty"`
	ReadVersion         *int64            `json:"readVersion,omitempty"`
	IsolationLevel      string            `json:"isolationLevel,omitempty"`
	IsBlindAppend       *bool             `json:"isBlindAppend,omitempty"`
	OperationMetrics    map[string]string `json:"operationMetrics,omitempty"`
	EngineInfo          string            `json:"engineInfo,omitempty"`
	TxnID               string            `json:"txnId,omitempty"`
}

// Action is one line of a commit file. Exactly one field is set; unknown actions (cdc,
// domainMetadata, checkpointMetadata, sidecar, ...) leave all of them nil and are skipped.
type Action struct {
	Protocol   *Protocol   `json:"protocol,omitempty"`
	MetaData   *Metadata   `json:"metaData,omitempty"`
	Add        *Add        `json:"add,omitempty"`
	Remove     *Remove     `json:"remove,omitempty"`
	Txn        *Txn        `json:"txn,omitempty"`
	CommitInfo *CommitInfo `json:"commitInfo,omitempty"`
}

// ParseActions reads the newline-delimited JSON of one commit. Blank lines are allowed;
// unknown actions and fields are ignored, as the protocol requires.
func ParseActions(data []byte) ([]Action, error) {
	var out []Action
	line := 1
	for len(data) > 0 {
		i := 0
		for i < len(data) && data[i] != '\n' {
			i++
		}
		chunk := data[:i]
		if i < len(data) {
			data = data[i+1:]
		} else {
			data = nil
		}
		if len(trimSpace(chunk)) > 0 {
			var a Action
			if err := json.Unmarshal(chunk, &a); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			out = append(out, a)
		}
		line++
	}
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// MarshalActions renders actions as one commit file.
func MarshalActions(actions []Action) ([]byte, error) {
	var out []byte
	for _, a := range actions {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		out = append(out, '\n')
	}
	return out, nil
}
