package icd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOrderFile: any text reads or rejects line by line, never panics; every code read is a
// valid order-file code that WriteOrderFile writes and ParseOrderLine reads back the same.
func FuzzOrderFile(f *testing.F) {
	data := orderSample(f)
	f.Add(data)
	for _, l := range strings.Split(string(data), "\n") {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, err := ReadOrderFile(context.Background(), "fuzz", bytes.NewReader(in), OrderOptions{Reject: func(int, string) error { return nil }},
			func(c Code) error {
				var buf bytes.Buffer
				if err := WriteOrderFile(&buf, []Code{c}); err != nil {
					t.Fatalf("read %+v but cannot write it: %v", c, err)
				}
				back, err := ParseOrderLine(strings.TrimRight(buf.String(), "\r\n"))
				if err != nil {
					t.Fatalf("wrote %q, cannot read it: %v", buf.String(), err)
				}
				if back.Code != c.Code || back.Order != c.Order || *back.Billable != *c.Billable || back.ShortTitle != c.ShortTitle {
					t.Fatalf("round trip %+v -> %+v", c, back)
				}
				return nil
			})
		if err != nil && !strings.Contains(err.Error(), "token too long") {
			t.Fatal(err)
		}
	})
}

// FuzzParseNLM: any bytes parse or fail cleanly; a parsed page has one named code per row.
func FuzzParseNLM(f *testing.F) {
	for _, body := range nlmExamples(f) {
		f.Add(body)
	}
	f.Add([]byte(`[0,[],null,[]]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParseNLM(in)
		if err != nil {
			return
		}
		if len(p.Codes) > p.Total {
			t.Fatalf("%d codes above total %d", len(p.Codes), p.Total)
		}
		for _, c := range p.Codes {
			if c.Code == "" || len(c.Values()) != len(c.Columns()) {
				t.Fatalf("bad code %+v", c)
			}
		}
	})
}

// FuzzParseEntity: any bytes parse or fail cleanly; an entity always has its @id.
func FuzzParseEntity(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(icdSamples(f), "who_icd10_release_2019_responses_from_codigo_docs.json"))
	if err != nil {
		f.Fatal(err)
	}
	var doc map[string]json.RawMessage
	json.Unmarshal(data, &doc)
	for k, v := range doc {
		if strings.HasPrefix(k, "GET ") {
			f.Add([]byte(v))
		}
	}
	f.Add([]byte(`{"@id":"x","title":"plain"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := ParseEntity(in)
		if err != nil {
			return
		}
		if e.ID == "" {
			t.Fatal("entity without @id")
		}
		c := entityCode(e, "")
		if len(c.Values()) != len(c.Columns()) {
			t.Fatal("flat view misaligned")
		}
	})
}
