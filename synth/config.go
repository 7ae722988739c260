package synth

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rcmlake/rcmlake/config"
)

// Config is the pipeline config for a generated world: its EMRs, landing files and the
// silver mappings of both schema styles.
func Config(m *Manifest) *config.Config {
	yes := true
	cfg := &config.Config{Version: 1, Project: fmt.Sprintf("generated hospital network (seed %d)", m.Seed)}
	cfg.Lake.Root = "lake"
	cfg.Ingest.Parallelism = 5
	cfg.Sources.Landing = &config.Landing{Root: "landing", Archive: "archive"}
	var hospitals []config.SeedHospital
	for _, h := range m.Hospitals {
		db := config.Database{Name: h.Name, Datasource: h.Code, Driver: h.Driver, DSN: h.DSN, Schema: h.Schema}
		if u, err := url.Parse(h.DSN); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				db.DSN = "${env:RCMLAKE_EMR_DSN}" // never write a password into the config
			}
		}
		for _, t := range h.Tables {
			tbl := config.Table{Name: t.Name, PrimaryKey: t.PrimaryKey, Active: &yes, Load: config.LoadFull}
			if t.Watermark != "" {
				// The EMR deletes patients and voids charges: incremental loads take the key
				// list too, so silver sees the deletes.
				tbl.Load, tbl.Watermark, tbl.TrackDeletes = config.LoadIncremental, t.Watermark, true
			}
			db.Tables = append(db.Tables, tbl)
		}
		cfg.Sources.EMR = append(cfg.Sources.EMR, db)
		cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, config.LandingFile{
			Pattern: "claims/" + h.ClaimsFile + "*.csv", Datasource: h.Code, Table: "claims",
			// The seed's columns plus the richer feed's allowed amount, paid date and denial reason.
			Columns: append(config.SeedClaimsColumns(), config.ExpectedColumn{Name: "AllowedAmount"}, config.ExpectedColumn{Name: "PaidDate"},
				config.ExpectedColumn{Name: "DenialReason"}),
		})
		hospitals = append(hospitals, config.SeedHospital{Datasource: h.Code, Style: h.Style, ProviderPrefix: h.ProvPrefix})
	}
	cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, config.LandingFile{Pattern: "cptcodes/*.csv", Datasource: "ref", Table: "cpt_codes"})
	// The seed's data model and rules, plus what the generator's richer world carries: claims
	// with allowed amounts, paid dates and denial reasons, and rules that catch every kind of
	// planted defect.
	// Reference APIs, offline: recorded-format NPI Registry answers and a CMS order file.
	cfg.Sources.APIs.NPI = &config.API{BaseURL: "file://" + NPIFixtures, Workers: 4}
	cfg.Sources.APIs.ICD = &config.API{Kind: "cms-file", Root: ICDOrderFile}
	cfg.Silver.Entities = append(config.SeedEntities(hospitals), config.ReferenceEntities()...)
	for i := range cfg.Silver.Entities {
		e := &cfg.Silver.Entities[i]
		switch e.Name {
		case "claims":
			for j := range e.Sources {
				e.Sources[j].Columns["allowed_amount"] = "AllowedAmount"
				e.Sources[j].Columns["paid_date"] = "PaidDate"
				e.Sources[j].Columns["denial_reason"] = "DenialReason"
			}
		case "patients":
			e.Rules = append(e.Rules, config.Rule{Name: "dates_parse", Type: "expression", Expr: "_cast_errors = ''", Severity: "quarantine"})
		case "transactions":
			e.Rules = []config.Rule{
				{Name: "transaction_key_unique", Type: "unique", Columns: []string{"transaction_key"}, Severity: "quarantine"},
				{Name: "amount_not_negative", Type: "range", Columns: []string{"amount"}, Min: ptrF(0), Severity: "quarantine"},
				{Name: "patient_exists", Type: "relationships", Columns: []string{"patient_key"}, To: "patients.patient_key", Severity: "quarantine"},
				{Name: "dates_parse", Type: "expression", Expr: "_cast_errors = ''", Severity: "quarantine"},
			}
		}
	}
	cfg.Roles = config.SeedRoles()
	cfg.Governance.PHI = config.DefaultPHI()
	return cfg
}
func ptrF(f float64) *float64 { return &f }

// WriteConfig writes the world's rcmlake.yaml.
func WriteConfig(dir string, m *Manifest) error {
	data, err := config.Marshal(Config(m))
	if err != nil {
		return err
	}
	header := "# rcmlake pipeline config for the generated world in this folder.\n# Check it with: rcmlake validate rcmlake.yaml\n"
	return os.WriteFile(filepath.Join(dir, "rcmlake.yaml"), []byte(header+strings.TrimLeft(string(data), "\n")), 0o644)
}
