package query

import (
	"strings"
	"testing"
)

func TestRefs(t *testing.T) {
	cases := []struct {
		sql  string
		want []string // the names found, as rendered
	}{
		{"SELECT * FROM silver.patients", []string{"silver.patients"}},
		{"select count(*) from GOLD.fact_claim c join gold.dim_payer p on true", []string{"gold.fact_claim", "gold.dim_payer"}},
		{"SELECT * FROM silver.patients@v3 a, silver.patients b", []string{"silver.patients@v3", "silver.patients"}},
		{"SELECT * FROM gold.kpi_monthly@2024-06-01", []string{"gold.kpi_monthly@2024-06-01T00:00:00Z"}},
		{"SELECT * FROM gold.kpi_monthly@2024-06-01T12:30:00Z WHERE 1=1", []string{"gold.kpi_monthly@2024-06-01T12:30:00Z"}},
		{"SELECT 'silver.patients' AS s, \"gold.x\" FROM audit.load_logs", []string{"audit.load_logs"}},
		{"SELECT 1 -- from silver.patients\nFROM bronze.claims /* gold.fact_claim */", []string{"bronze.claims"}},
		{"SELECT 'it''s silver.patients' FROM gold.dim_date", []string{"gold.dim_date"}},
		{"SELECT x.silver.patients, mysilver.patients, silver.patients_extra FROM t", []string{"silver.patients_extra"}},
		{"SELECT * FROM platinum.x", nil},
	}
	for _, c := range cases {
		refs, err := Refs(c.sql)
		if err != nil {
			t.Errorf("%q: %v", c.sql, err)
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.Name.String())
			if !strings.EqualFold(c.sql[r.Start:r.Start+len(r.Name.Layer)], r.Name.Layer) {
				t.Errorf("%q: offsets %d-%d do not start at the layer", c.sql, r.Start, r.End)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%q: refs %v, want %v", c.sql, got, c.want)
		}
	}
}

func TestRefsRejectBadPins(t *testing.T) {
	if _, err := Refs("SELECT * FROM silver.patients@2024-13-45"); err == nil {
		t.Error("a pin to month 13 was accepted")
	}
}
