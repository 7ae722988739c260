package config

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

func TestImportSeedMatchesLoadConfig(t *testing.T) {
	path := filepath.Join(testenv.SharedDir(t), "seed-data", "load_config.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ImportSeed(path, f, SeedImport{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}

	// Read the seed file independently and compare row by row.
	raw, _ := os.ReadFile(path)
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]int{}
	for i, h := range recs[0] {
		hdr[h] = i
	}
	rows := recs[1:]
	got := 0
	for _, db := range cfg.Sources.EMR {
		got += len(db.Tables)
		if !IsSecretRef(db.DSN) {
			t.Errorf("database %s: DSN %q should be a secret reference", db.Name, db.DSN)
		}
	}
	if got != len(rows) {
		t.Fatalf("imported %d tables, the seed file has %d rows", got, len(rows))
	}
	for _, r := range rows {
		db, ok := cfg.Database(r[hdr["datasource"]])
		if !ok {
			t.Fatalf("datasource %s missing", r[hdr["datasource"]])
		}
		if db.Name != r[hdr["database"]] {
			t.Errorf("datasource %s: database %q, want %q", db.Datasource, db.Name, r[hdr["database"]])
		}
		var tbl *Table
		for i := range db.Tables {
			if db.Tables[i].Name == r[hdr["tablename"]] {
				tbl = &db.Tables[i]
			}
		}
		if tbl == nil {
			t.Fatalf("table %s of %s missing", r[hdr["tablename"]], db.Name)
		}
		if tbl.Load != strings.ToLower(r[hdr["loadtype"]]) || tbl.Watermark != r[hdr["watermark"]] {
			t.Errorf("%s.%s: load %s/%s, want %s/%s", db.Name, tbl.Name, tbl.Load, tbl.Watermark, r[hdr["loadtype"]], r[hdr["watermark"]])
		}
		if tbl.IsActive() != (r[hdr["is_active"]] == "1") {
			t.Errorf("%s.%s: active %v, want %s", db.Name, tbl.Name, tbl.IsActive(), r[hdr["is_active"]])
		}
	}

	// The YAML it writes reads back to the same config.
	data, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("round-trip.yaml", data)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(stripPos(back.Sources), stripPos(cfg.Sources)) {
		t.Errorf("round trip changed the sources:\n%s", data)
	}
}

// stripPos drops positions, which differ between an imported and a parsed config.
func stripPos(s Sources) Sources {
	out := s
	out.EMR = nil
	for _, db := range s.EMR {
		db.Pos = Pos{}
		var ts []Table
		for _, t := range db.Tables {
			t.Pos = Pos{}
			ts = append(ts, t)
		}
		db.Tables = ts
		out.EMR = append(out.EMR, db)
	}
	if s.Landing != nil {
		l := *s.Landing
		l.Pos, l.Files = Pos{}, nil
		for _, f := range s.Landing.Files {
			f.Pos = Pos{}
			l.Files = append(l.Files, f)
		}
		out.Landing = &l
	}
	return out
}

func TestImportSeedReportsEveryBadRow(t *testing.T) {
	in := "database,datasource,tablename,loadtype,watermark,is_active,targetpath\n" +
		"db1,hos-a,dbo.patients,Sometimes,,1,x\n" +
		"db1,hos-a,dbo.encounters,Full,,maybe,x\n" +
		",hos-a,dbo.t,Full,,1,x\n"
	_, err := ImportSeed("bad.csv", strings.NewReader(in), SeedImport{})
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	lines := map[int]bool{}
	for _, p := range probs {
		lines[p.Line] = true
	}
	for _, want := range []int{2, 3, 4} {
		if !lines[want] {
			t.Errorf("no problem reported for line %d: %v", want, probs)
		}
	}
}

func TestValidateReportsAllProblemsWithLines(t *testing.T) {
	src := `version: 1
lake:
  root: ftp://x/y
sources:
  emr:
    - name: a
      datasource: hos-a
      driver: oracle
      dsn: postgres://u:hunter2@h/db
      tables:
        - name: patients
          load: incremental
        - name: visits
          load: sometimes
          bogus: 1
engine:
  threads: many
  remote: sc://adb-1.azuredatabricks.net:443/;token=dapi-hunter2;x-databricks-cluster-id=c1
silver:
  entities:
    - name: patients
      key: [patient_id]
      sources:
        - datasource: hos-z
          table: patients
      rules:
        - name: r1
          type: not_nul
          severity: quarantine
          columns: [x]
`
	_, err := Parse("bad.yaml", []byte(src))
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []struct {
		line int
		text string
	}{
		{3, `scheme "ftp"`},
		{6, `driver "oracle"`},
		{6, "literal password"},
		{11, "needs a watermark"},
		{13, `load "sometimes"`},
		{15, `unknown key "bogus"`},
		{17, "cannot unmarshal"},
		{17, "literal token"},
		{24, `datasource "hos-z"`},
		{27, `type "not_nul"`},
	}
	for _, w := range want {
		found := false
		for _, p := range probs {
			if p.Line == w.line && strings.Contains(p.Message, w.text) && p.File == "bad.yaml" {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d containing %q; got:\n%v", w.line, w.text, probs)
		}
	}
	if strings.Contains(probs.Error(), "hunter2") {
		t.Errorf("a problem message repeats the password: %v", probs)
	}
}

func TestValidConfigDefaults(t *testing.T) {
	src := `version: 1
sources:
  emr:
    - name: h
      datasource: hos-a
      driver: sqlite
      dsn: emr/h.sqlite
      tables:
        - name: dbo.Patients
          load: Incremental
          watermark: ModifiedDate
          primary_key: [PatientID]
  landing:
    root: landing
    files:
      - pattern: claims/hospital1_*.csv
        datasource: hos-a
        table: claims
roles:
  - name: analyst
    grants: ["select on gold.*", "select on silver.patients"]
`
	cfg, err := Parse(filepath.Join("some", "dir", "rcmlake.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tbl := cfg.Sources.EMR[0].Tables[0]
	if tbl.Load != LoadIncremental || !tbl.IsActive() || tbl.TargetName() != "patients" {
		t.Errorf("defaults: %+v target %s", tbl, tbl.TargetName())
	}
	if cfg.Ingest.Parallelism != 5 || cfg.Engine.Name != "duckdb" || cfg.Sources.Landing.Archive != "archive" {
		t.Errorf("defaults not applied: %+v %+v", cfg.Ingest, cfg.Engine)
	}
	if got := cfg.ResolvePath(cfg.Sources.EMR[0].DSN); got != filepath.Join("some", "dir", "emr", "h.sqlite") {
		t.Errorf("ResolvePath = %s", got)
	}
	if tbl.Pos.Line != 9 {
		t.Errorf("table position line %d, want 9", tbl.Pos.Line)
	}
}

func TestLiteralCredential(t *testing.T) {
	for dsn, bad := range map[string]bool{
		"postgres://u:pw@h/db":                      true,
		"postgres://u:${secret:pw}@h/db":            false,
		"host=h user=u password=pw dbname=d":        true,
		"host=h user=u password=${env:PGPW}":        false,
		"sqlserver://h?database=d":                  false,
		"server=h;user id=u;Password=x;database=d":  true,
		"${secret:emr-dsn}":                         false,
		"emr/hospital-a.sqlite":                     false,
		"server=h;user id=u;pwd=${secret:x};":       false,
		"postgres://u@h/db?sslmode=disable":         false,
		"Server=h;Database=d;Password=;":            false,
		"file:emr.sqlite?_pragma=busy_timeout(500)": false,
	} {
		if got := literalCredential(dsn) != ""; got != bad {
			t.Errorf("literalCredential(%q) flagged=%v, want %v", dsn, got, bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\nsources:\n  emr: []\n"))
	f.Add([]byte("version: 1\nlake: {root: s3://b/p}\nroles: [{name: a, grants: ['select on gold.*']}]\n"))
	f.Add([]byte(":\n- [\n"))
	if data, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		var probs Problems
		if err != nil && errors.As(err, &probs) && len(probs) == 0 {
			t.Fatal("Problems error with no problems")
		}
	})
}

func TestAPIsValidation(t *testing.T) {
	src := `version: 1
sources:
  apis:
    npi:
      base_url: file:///tmp/npi-fixtures
      timeout: soon
      max_attempts: -1
    icd:
      kind: who
      client_secret: hunter2
      language: English
`
	_, err := Parse("apis.yaml", []byte(src))
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	for _, w := range []struct {
		line int
		text string
	}{
		{5, `timeout "soon"`},
		{5, "must not be negative"},
		{9, "client_secret is a literal"},
		{9, `language "English"`},
		{9, "needs client_id and client_secret"},
	} {
		found := false
		for _, p := range probs {
			if p.Line == w.line && strings.Contains(p.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d containing %q; got:\n%v", w.line, w.text, probs)
		}
	}
	if strings.Contains(probs.Error(), "hunter2") {
		t.Errorf("a problem repeats the secret: %v", probs)
	}
	ok := `version: 1
sources:
  apis:
    npi: {base_url: "https://npiregistry.cms.hhs.gov/api/", rate_per_sec: 5, workers: 4, timeout: 20s, max_attempts: 3}
    icd: {kind: who, client_id: "${secret:who_id}", client_secret: "${secret:who_secret}", language: en, root: "http://id.who.int/icd/release/10/2019"}
`
	cfg, err := Parse("ok.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Sources.APIs.NPI; a.MaxAttempts != 3 || a.Timeout != "20s" {
		t.Errorf("npi %+v", a)
	}
	if a := cfg.Sources.APIs.ICD; a.Language != "en" || a.Kind != "who" {
		t.Errorf("icd %+v", a)
	}
}
