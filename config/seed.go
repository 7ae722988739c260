package config

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// SeedImport says how to fill in what the seed's load_config.csv does not hold.
type SeedImport struct {
	// Driver of the EMR databases; the seed ran on Azure SQL, so sqlserver by default.
	Driver string
	// DSNTemplate builds each database's DSN; {database} is replaced by its name. The default
	// is a secret reference, ${secret:{database}-dsn}, so no credential lands in the file.
	DSNTemplate string
	// LakeRoot is the lake location to write.
	LakeRoot string
}

// ImportSeed turns the seed project's load_config.csv (database, datasource, tablename,
// loadtype, watermark, is_active, targetpath) into a Config. Columns are found by name, so a
// reordered file still imports; every bad row is reported with its line.
func ImportSeed(name string, r io.Reader, opts SeedImport) (*Config, error) {
	if opts.Driver == "" {
		opts.Driver = "sqlserver"
	}
	if opts.DSNTemplate == "" {
		opts.DSNTemplate = "${secret:{database}-dsn}"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var probs Problems
	for _, want := range []string{"database", "datasource", "tablename", "loadtype", "watermark", "is_active"} {
		if _, ok := col[want]; !ok {
			probs = append(probs, Problem{File: name, Line: 1, Message: fmt.Sprintf("column %q is missing from the header", want)})
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	get := func(rec []string, c string) string {
		if i, ok := col[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	cfg := &Config{Version: 1, Project: "imported from " + name, file: "rcmlake.yaml"}
	cfg.Lake.Root = opts.LakeRoot
	byDB := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			probs = append(probs, Problem{File: name, Line: line, Message: err.Error()})
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		dbName, ds := get(rec, "database"), get(rec, "datasource")
		if dbName == "" || ds == "" {
			probs = append(probs, Problem{File: name, Line: line, Message: "database and datasource are required"})
			continue
		}
		i, ok := byDB[dbName]
		if !ok {
			i = len(cfg.Sources.EMR)
			byDB[dbName] = i
			cfg.Sources.EMR = append(cfg.Sources.EMR, Database{
				Name: dbName, Datasource: ds, Driver: opts.Driver,
				DSN: strings.ReplaceAll(opts.DSNTemplate, "{database}", dbName),
			})
		}
		load := strings.ToLower(get(rec, "loadtype"))
		if load != LoadFull && load != LoadIncremental {
			probs = append(probs, Problem{File: name, Line: line, Message: fmt.Sprintf("loadtype %q: want Full or Incremental", get(rec, "loadtype"))})
			continue
		}
		active := true
		switch get(rec, "is_active") {
		case "1", "true", "True", "TRUE", "":
		case "0", "false", "False", "FALSE":
			active = false
		default:
			probs = append(probs, Problem{File: name, Line: line, Message: fmt.Sprintf("is_active %q: want 0 or 1", get(rec, "is_active"))})
			continue
		}
		tname := get(rec, "tablename")
		if opts.Driver != "sqlserver" && strings.HasPrefix(strings.ToLower(tname), "dbo.") {
			tname = tname[len("dbo."):] // SQL Server's default schema; SQLite and PostgreSQL have their own
		}
		t := Table{Name: tname, Load: load, Watermark: get(rec, "watermark"), Active: &active}
		// The seed's targetpath ("hosa") is a folder per hospital; rcmlake places bronze by
		// datasource and table, so the table's own name is the target.
		cfg.Sources.EMR[i].Tables = append(cfg.Sources.EMR[i].Tables, t)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	addSeedModel(cfg)
	cfg.applyDefaults()
	if p := cfg.validate(); len(p) > 0 {
		return nil, p
	}
	return cfg, nil
}

// addSeedModel completes an imported config with what the seed project hard-coded in its
// notebooks: the landing files (claims per hospital, the CPT file), the silver data model
// over both patient schemas, the quality rules and default roles. A hospital whose patients'
// watermark is Updated_Date uses hospital B's schema (ID, F_Name, ...); the N-th database's
// providers carry the prefix HN-, as the seed's do.
func addSeedModel(cfg *Config) {
	var hospitals []SeedHospital
	cfg.Sources.Landing = &Landing{Root: "landing", Archive: "archive"}
	for i, db := range cfg.Sources.EMR {
		style := "a"
		for _, t := range db.Tables {
			if t.TargetName() == "patients" && strings.EqualFold(t.Watermark, "Updated_Date") {
				style = "b"
			}
		}
		hospitals = append(hospitals, SeedHospital{Datasource: db.Datasource, Style: style, ProviderPrefix: fmt.Sprintf("H%d-", i+1)})
		cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, LandingFile{
			Pattern: fmt.Sprintf("claims/hospital%d_*.csv", i+1), Datasource: db.Datasource, Table: "claims",
			Columns: SeedClaimsColumns(),
		})
	}
	cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, LandingFile{Pattern: "cptcodes/*.csv", Datasource: "ref", Table: "cpt_codes"})
	cfg.Silver.Entities = SeedEntities(hospitals)
	cfg.Roles = SeedRoles()
	cfg.Governance.PHI = DefaultPHI()
}
