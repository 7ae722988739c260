package bronze

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/rcmlake/rcmlake/config"
)

// MaxCSVRecord bounds one landing CSV record. encoding/csv holds a whole record in memory, so a
// stray quote would otherwise read the rest of a 2 GB file into one field; past this a file
// fails to load instead, with the line where the record began. (A variable for tests.)
var MaxCSVRecord int64 = 64 << 20

// csvScanner reads a landing CSV against its rule: the header decides the output columns, and
// each record then becomes a row of them or a reject with its line and reason. It holds one
// record at a time.
type csvScanner struct {
	key     string
	r       *csv.Reader
	limit   *recordLimit
	header  []string // the file's own header
	names   []string // the header as distinct column names
	cols    []string // the output columns
	from    []int    // output column -> field index (-1: absent)
	rescued []int    // field indexes of undeclared columns, kept in ColRescued
	extra   map[string]string
	line    int // where the last record began
}

// newCSVScanner reads the header and checks the rule's required columns against it.
func newCSVScanner(rule config.LandingFile, key string, src io.Reader) (*csvScanner, error) {
	limit := &recordLimit{src: src, max: MaxCSVRecord}
	r := csv.NewReader(bufio.NewReaderSize(limit, 1<<20))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", key, err)
	}
	header = append([]string(nil), header...) // the reader reuses its record
	for i, h := range header {
		if !utf8.ValidString(h) {
			header[i] = strings.ToValidUTF8(h, "\uFFFD")
		}
	}
	s := &csvScanner{key: key, r: r, limit: limit, header: header, names: make([]string, len(header)), extra: map[string]string{}, line: 1}
	index := map[string]int{}
	for i, h := range header {
		name := NormalizeHeader(h)
		if name == "" {
			name = fmt.Sprintf("column_%d", i+1)
		}
		base := name
		for n := 2; ; n++ { // duplicate headers stay distinct
			if _, dup := index[name]; !dup {
				break
			}
			name = fmt.Sprintf("%s_%d", base, n)
		}
		s.names[i] = name
		index[name] = i
	}
	var missing []string
	for _, c := range rule.Columns {
		if _, ok := index[NormalizeHeader(c.Name)]; !ok && c.Required {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: required column(s) %s missing from the header (%s)", key, strings.Join(missing, ", "), strings.Join(header, ", "))
	}
	// The output columns: the declared ones in their declared order (a column this file lacks
	// is NULL, a reordered one is found by name) plus the rescued data; or, when the rule
	// declares none or keeps extra columns, every column of the file by its name.
	s.cols = s.names
	s.from = make([]int, len(s.names))
	for i := range s.from {
		s.from[i] = i
	}
	if len(rule.Columns) > 0 && rule.ExtraColumns != "keep" {
		s.cols, s.from = nil, nil
		declared := map[string]bool{}
		for _, c := range rule.Columns {
			n := NormalizeHeader(c.Name)
			if declared[n] {
				continue // declared twice: one column
			}
			declared[n] = true
			s.cols = append(s.cols, n)
			if i, ok := index[n]; ok {
				s.from = append(s.from, i)
			} else {
				s.from = append(s.from, -1)
			}
		}
		for i, n := range s.names {
			if !declared[n] {
				s.rescued = append(s.rescued, i)
			}
		}
		s.cols = append(s.cols, ColRescued)
	}
	return s, nil
}

// next reads one record into vals (len(s.cols)), or returns it as a reject. io.EOF ends the
// file; any other error (the source failing, a record over MaxCSVRecord) ends the load.
func (s *csvScanner) next(vals []any) (*Reject, error) {
	s.limit.mark()
	fields, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	// FieldPos panics on a record the reader gave up on (it has no fields): a parse error
	// carries its own line.
	var line int
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line = pe.StartLine
	} else if err == nil || len(fields) > 0 {
		line, _ = s.r.FieldPos(0)
	}
	if line > 0 {
		s.line = line
	}
	var reason string
	switch {
	case err != nil:
		if pe == nil {
			if errors.Is(err, errRecordTooLong) {
				return nil, fmt.Errorf("%s: the record near line %d is longer than %d MiB (an unclosed quote?)", s.key, s.line, MaxCSVRecord>>20)
			}
			return nil, err
		}
		reason = err.Error()
	case len(fields) != len(s.names):
		reason = fmt.Sprintf("%d fields, the header has %d", len(fields), len(s.names))
	}
	if reason == "" {
		for _, f := range fields {
			if !utf8.ValidString(f) {
				reason = "invalid UTF-8"
				break
			}
		}
	}
	if reason != "" {
		return &Reject{File: s.key, Line: line, Reason: reason, Raw: strings.ToValidUTF8(strings.Join(fields, ","), "\uFFFD")}, nil
	}
	for i, c := range s.cols {
		switch {
		case c == ColRescued && len(s.rescued) > 0:
			clear(s.extra)
			for _, f := range s.rescued {
				// Keyed by the file's own header; a header that repeats takes its distinct name.
				k := s.header[f]
				if _, dup := s.extra[k]; dup {
					k = s.names[f]
				}
				s.extra[k] = fields[f]
			}
			b, _ := json.Marshal(s.extra)
			vals[i] = string(b)
		case c == ColRescued, s.from[i] < 0:
			vals[i] = nil
		default:
			vals[i] = fields[s.from[i]]
		}
	}
	return nil, nil
}

var errRecordTooLong = errors.New("CSV record too long")

// recordLimit fails a read once more than max bytes were pulled since the current record
// began: the CSV reader buffers a record whole, so this bounds its memory.
type recordLimit struct {
	src       io.Reader
	max, n, m int64
}

func (l *recordLimit) mark() { l.m = l.n }

func (l *recordLimit) Read(p []byte) (int, error) {
	if l.n-l.m > l.max {
		return 0, errRecordTooLong
	}
	k, err := l.src.Read(p)
	l.n += int64(k)
	return k, err
}
