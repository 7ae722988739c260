package catalog

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	n, err := Parse("silver.Patients@v3")
	if err != nil || n.Layer != Silver || n.Table != "patients" || n.Version == nil || *n.Version != 3 || n.Key() != "silver/patients" {
		t.Fatalf("Parse: %+v %v", n, err)
	}
	if n.String() != "silver.patients@v3" {
		t.Errorf("String = %s", n.String())
	}
	n, err = Parse("gold.kpi_monthly@2024-06-01")
	if err != nil || n.AsOf == nil || !n.AsOf.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("as-of: %+v %v", n, err)
	}
	for _, bad := range []string{"patients", "platinum.x", "silver.", "silver.x@v-1", "silver.x@yesterday", "/tmp/silver/x", "silver.x;drop"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
		if IsName(bad) && bad != "silver.x@v-1" && bad != "silver.x@yesterday" {
			t.Errorf("IsName(%q) = true", bad)
		}
	}
}
