package lake

import "testing"

func TestCheckKey(t *testing.T) {
	good := []string{
		"a",
		"silver/patients/_delta_log/00000000000000000003.json",
		"t/date=2024-01-01 10%3A00/part-00000-x.snappy.parquet",
		"ünïcode/ключ",
		"..hidden/x", // a segment that merely starts with dots is fine
	}
	for _, k := range good {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", k, err)
		}
	}
	bad := []string{"", "/abs", "dir/", "a//b", "a/./b", "a/../b", "..", ".", "a\x00b"}
	for _, k := range bad {
		if err := CheckKey(k); err == nil {
			t.Errorf("CheckKey(%q) = nil, want an error", k)
		}
	}
}
