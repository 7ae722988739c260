package bronze

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"unicode/utf8"
)

// rowFile streams rows to a temporary JSON-lines file, every value as the source's text, so
// memory stays flat whatever a load's size; writeParquet then turns it into bronze Parquet.
//
// Lines are written by hand, not with encoding/json: encoding a map per row (reflection and a
// key sort on every row) was a third of extraction's CPU time (rcmlake bench --profile).
type rowFile struct {
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	cols []string // the columns keys was built for
	keys [][]byte // `{"col":` then `,"col":`, per column
	dup  bool     // duplicate column names: fall back to a map (the last value wins)
	rec  map[string]any
	rows int64
}

func newRowFile() (*rowFile, error) {
	f, err := os.CreateTemp("", "rcmlake-bronze-*.jsonl")
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	return &rowFile{f: f, w: w}, nil
}

// write adds one row; vals line up with cols.
func (r *rowFile) write(cols []string, vals []any) error {
	if !sameCols(cols, r.cols) {
		r.setCols(cols)
	}
	r.rows++
	if r.dup {
		clear(r.rec)
		for i, c := range cols {
			r.rec[c] = textOf(vals[i])
		}
		b, err := json.Marshal(r.rec)
		if err != nil {
			return err
		}
		r.w.Write(b)
		return r.w.WriteByte('\n')
	}
	b := r.buf[:0]
	for i := range cols {
		b = append(b, r.keys[i]...)
		switch v := textOf(vals[i]).(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendJSONString(b, v)
		}
	}
	if len(cols) == 0 {
		b = append(b, '{')
	}
	b = append(b, '}', '\n')
	r.buf = b
	_, err := r.w.Write(b)
	return err
}

func sameCols(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (r *rowFile) setCols(cols []string) {
	r.cols, r.keys, r.dup = cols, make([][]byte, len(cols)), false
	seen := map[string]bool{}
	for i, c := range cols {
		if seen[c] {
			r.dup = true
		}
		seen[c] = true
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		r.keys[i] = append(appendJSONString([]byte{sep}, c), ':')
	}
	if r.dup && r.rec == nil {
		r.rec = map[string]any{}
	}
}

// appendJSONString appends s as a JSON string, as encoding/json writes it: invalid UTF-8
// becomes U+FFFD, and control characters, quotes, backslashes, <, >, &, U+2028 and U+2029 are
// escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = strconv.AppendInt(b, int64(r&0xf), 16)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
