package bronze

import (
	"bufio"
	"encoding/json"
	"os"
)

// rowFile streams rows to a temporary JSON-lines file, every value as the source's text, so
// memory stays flat whatever a load's size; writeParquet then turns it into bronze Parquet.
type rowFile struct {
	f    *os.File
	w    *bufio.Writer
	enc  *json.Encoder
	rec  map[string]any
	rows int64
}

func newRowFile() (*rowFile, error) {
	f, err := os.CreateTemp("", "rcmlake-bronze-*.jsonl")
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	return &rowFile{f: f, w: w, enc: json.NewEncoder(w), rec: map[string]any{}}, nil
}

// write adds one row; vals line up with cols.
func (r *rowFile) write(cols []string, vals []any) error {
	for i, c := range cols {
		r.rec[c] = textOf(vals[i])
	}
	r.rows++
	return r.enc.Encode(r.rec)
}

// name is the file's path; call finish first.
func (r *rowFile) name() string { return r.f.Name() }

// finish flushes and closes the file, ready to be read.
func (r *rowFile) finish() error {
	if err := r.w.Flush(); err != nil {
		return err
	}
	return r.f.Close()
}

// discard removes the file.
func (r *rowFile) discard() {
	r.f.Close()
	os.Remove(r.f.Name())
}
