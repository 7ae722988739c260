package bronze

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// Watermark is the high-water mark of an incremental load and the rows that sit exactly on it.
//
// Why the boundary set: a watermark such as ModifiedDate is not unique. Reading "> mark"
// misses rows that arrive later with the same value as the last one loaded; reading ">= mark"
// re-reads every row on the mark (with a date watermark, a whole day) on every run. rcmlake
// reads ">= mark" and skips the rows whose content hash it already loaded on the mark, so a
// late row that ties the mark is loaded once, and an unchanged row is never loaded twice.
// Rows with a NULL watermark are treated the same way: read every time, loaded when new or
// changed.
type Watermark struct {
	// Value is the highest watermark loaded, in canonical text (see Canonical); empty before
	// the first load.
	Value string `json:"value,omitempty"`
	// Kind is how Value compares: "time", "int", "float" or "text".
	Kind string `json:"kind,omitempty"`
	// OnMark holds the content hashes of the rows whose watermark equals Value.
	OnMark []string `json:"on_mark,omitempty"`
	// NullMark holds the content hashes of the rows whose watermark is NULL.
	NullMark []string `json:"null_mark,omitempty"`
}

// IsZero reports whether nothing has been loaded yet.
func (w Watermark) IsZero() bool { return w.Value == "" && len(w.NullMark) == 0 }

// Arg returns the mark as a query argument of its own type, for "wm >= ?".
func (w Watermark) Arg() (any, error) {
	switch w.Kind {
	case "time":
		return time.Parse(time.RFC3339Nano, w.Value)
	case "int":
		return strconv.ParseInt(w.Value, 10, 64)
	case "float":
		return strconv.ParseFloat(w.Value, 64)
	default:
		return w.Value, nil
	}
}

// Canonical renders a watermark value as comparable text and names its kind. NULL gives "".
func Canonical(v any) (text, kind string) {
	switch x := v.(type) {
	case nil:
		return "", ""
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), "time"
	case int64:
		return strconv.FormatInt(x, 10), "int"
	case int32:
		return strconv.FormatInt(int64(x), 10), "int"
	case int:
		return strconv.Itoa(x), "int"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), "float"
	case []byte:
		return string(x), "text"
	case string:
		return x, "text"
	default:
		return fmt.Sprint(x), "text"
	}
}

// compareMarks orders two canonical values of one kind.
func compareMarks(kind, a, b string) int {
	switch kind {
	case "time":
		ta, errA := time.Parse(time.RFC3339Nano, a)
		tb, errB := time.Parse(time.RFC3339Nano, b)
		if errA == nil && errB == nil {
			return ta.Compare(tb)
		}
	case "int":
		ia, errA := strconv.ParseInt(a, 10, 64)
		ib, errB := strconv.ParseInt(b, 10, 64)
		if errA == nil && errB == nil {
			switch {
			case ia < ib:
				return -1
			case ia > ib:
				return 1
			}
			return 0
		}
	case "float":
		fa, errA := strconv.ParseFloat(a, 64)
		fb, errB := strconv.ParseFloat(b, 64)
		if errA == nil && errB == nil {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RowHash is a null-safe content hash of a row: NULL and the empty string and the text "NULL"
// all hash differently, and so do values that only differ by where a field ends.
func RowHash(vals []any) string {
	h := sha256.New()
	var buf [9]byte
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			h.Write([]byte{0})
			continue
		case []byte:
			h.Write([]byte{1})
			binary.LittleEndian.PutUint64(buf[:8], uint64(len(x)))
			h.Write(buf[:8])
			h.Write(x)
			continue
		case float64:
			h.Write([]byte{2})
			binary.LittleEndian.PutUint64(buf[:8], math.Float64bits(x))
			h.Write(buf[:8])
			continue
		}
		s, _ := Canonical(v)
		h.Write([]byte{3})
		binary.LittleEndian.PutUint64(buf[:8], uint64(len(s)))
		h.Write(buf[:8])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Filter decides, row by row, what an incremental load keeps, and computes the next mark.
type Filter struct {
	prev     Watermark
	onMark   map[string]bool
	nullMark map[string]bool
	next     Watermark
	nextOn   map[string]bool
	nextNull map[string]bool
	Skipped  int64 // rows read again but already loaded
	NullRows int64 // rows with a NULL watermark that were kept
}

// NewFilter starts from the previous load's mark.
func NewFilter(prev Watermark) *Filter {
	f := &Filter{prev: prev, onMark: set(prev.OnMark), nullMark: set(prev.NullMark),
		next: Watermark{Value: prev.Value, Kind: prev.Kind}, nextOn: map[string]bool{}, nextNull: map[string]bool{}}
	// Rows on the old mark stay on the new mark until a higher value is seen.
	for h := range f.onMark {
		f.nextOn[h] = true
	}
	return f
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Keep reports whether a row with watermark value wm and content hash is new or changed.
func (f *Filter) Keep(wm any, hash string) bool {
	text, kind := Canonical(wm)
	if kind == "" {
		f.nextNull[hash] = true
		if f.nullMark[hash] {
			f.Skipped++
			return false
		}
		f.NullRows++
		return true
	}
	if f.next.Kind == "" {
		f.next.Kind = kind
	}
	if f.prev.Value != "" {
		switch c := compareMarks(f.next.Kind, text, f.prev.Value); {
		case c < 0:
			// Below the mark: the query asked for >= mark, so only a source that moved a
			// watermark backwards sends this. Keep it: losing a row is worse than a duplicate
			// that silver's change detection will ignore.
			return true
		case c == 0 && f.onMark[hash]:
			f.Skipped++
			return false
		}
	}
	switch c := compareMarks(f.next.Kind, text, f.next.Value); {
	case f.next.Value == "" || c > 0:
		f.next.Value = text
		f.nextOn = map[string]bool{hash: true}
	case c == 0:
		f.nextOn[hash] = true
	}
	return true
}

// Next is the mark to store once this load has committed.
func (f *Filter) Next() Watermark {
	w := f.next
	w.OnMark = sortedSet(f.nextOn)
	w.NullMark = sortedSet(f.nextNull)
	return w
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MarshalWatermark is the stored form.
func MarshalWatermark(w Watermark) ([]byte, error) { return json.Marshal(w) }

// UnmarshalWatermark reads the stored form.
func UnmarshalWatermark(data []byte) (Watermark, error) {
	var w Watermark
	err := json.Unmarshal(data, &w)
	return w, err
}
