package synth

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/source/sqldb"
)

// Defect is one planted data problem, which the pipeline must quarantine or reject.
type Defect struct {
	Kind       string `json:"kind"` // null_key, literal_null, unparseable_date, orphan_fk, duplicate_key, negative_amount, wrong_field_count
	Table      string `json:"table"`
	Datasource string `json:"datasource"`
	Key        string `json:"key"`
	Column     string `json:"column,omitempty"`
	File       string `json:"file,omitempty"`
	Line       int    `json:"line,omitempty"`
	Month      int    `json:"month"`
}

// TableInfo tells the pipeline how to load an EMR table.
type TableInfo struct {
	Name       string   `json:"name"`
	PrimaryKey []string `json:"primary_key"`
	Watermark  string   `json:"watermark,omitempty"`
}

// HospitalInfo is a hospital of the manifest.
type HospitalInfo struct {
	Hospital
	Driver string         `json:"driver"`
	DSN    string         `json:"dsn"`              // relative to the world folder for SQLite
	Schema string         `json:"schema,omitempty"` // PostgreSQL: one schema per hospital
	Tables []TableInfo    `json:"tables"`
	Rows   map[string]int `json:"rows"`
}

// Manifest describes a generated world.
type Manifest struct {
	Seed         uint64         `json:"seed"`
	Scale        float64        `json:"scale"`
	Start        string         `json:"start"`
	Months       int            `json:"months"`
	Hospitals    []HospitalInfo `json:"hospitals"`
	ClaimsFiles  []string       `json:"claims_files"`
	CPTFile      string         `json:"cpt_file"`
	Defects      []Defect       `json:"defects"`
	DefectCounts map[string]int `json:"defect_counts"`
}

// ManifestFile is the manifest's name in a world folder.
const ManifestFile = "manifest.json"

// Generate writes a new world into dir (which must not hold one yet).
func Generate(ctx context.Context, dir string, o Options) (*Manifest, error) {
	o.defaults()
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a world; use --append-month to add a month, or choose an empty folder", dir)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "emr")); len(files) > 0 {
		return nil, fmt.Errorf("%s holds a partial world (EMR files but no %s): an earlier generation stopped; remove the folder and generate again", dir, ManifestFile)
	}
	for _, sub := range []string{"emr", "landing/claims", "landing/cptcodes", "ref"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Seed: o.Seed, Scale: o.Scale, Start: ymd(o.Start), DefectCounts: map[string]int{}}
	if err := writeCPT(dir, m); err != nil {
		return nil, err
	}
	for h := 0; h < o.Hospitals; h++ {
		hi := HospitalInfo{Hospital: hospital(h), Driver: "sqlite", Rows: map[string]int{}}
		hi.DSN = "emr/" + hi.Name + ".sqlite"
		if o.EMRDSN != "" {
			hi.Driver, hi.DSN, hi.Schema = "postgres", o.EMRDSN, strings.ReplaceAll(hi.Code, "-", "_")
		}
		hi.Tables = tableInfos(hi.Style)
		m.Hospitals = append(m.Hospitals, hi)
	}
	if err := writeReference(dir, o, m); err != nil {
		return nil, err
	}
	gens := newHospitalGens(o, m, true)
	for month := 0; month < o.Months; month++ {
		if err := generateMonth(ctx, dir, gens, m, month); err != nil {
			return nil, err
		}
	}
	return m, finish(ctx, dir, m)
}

// AppendMonth adds the next month to the world in dir.
func AppendMonth(ctx context.Context, dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	start, _ := time.Parse(dateFmt, m.Start)
	o := Options{Seed: m.Seed, Scale: m.Scale, Start: start, Hospitals: len(m.Hospitals)}
	if len(m.Hospitals) > 0 && m.Hospitals[0].Driver == "postgres" {
		o.EMRDSN = m.Hospitals[0].DSN
	}
	o.defaults()
	if err := generateMonth(ctx, dir, newHospitalGens(o, m, false), m, m.Months); err != nil {
		return nil, err
	}
	return m, finish(ctx, dir, m)
}

// ReadManifest reads a world's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a generated world (no %s): %w", dir, ManifestFile, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return &m, nil
}

func tableInfos(style string) []TableInfo {
	pid, wm := "PatientID", "ModifiedDate"
	if style == "b" {
		pid, wm = "ID", "Updated_Date"
	}
	return []TableInfo{
		{Name: "patients", PrimaryKey: []string{pid}, Watermark: wm},
		{Name: "providers", PrimaryKey: []string{"ProviderID"}},
		{Name: "departments", PrimaryKey: []string{"DeptID"}},
		{Name: "encounters", PrimaryKey: []string{"EncounterID"}, Watermark: "ModifiedDate"},
		{Name: "transactions", PrimaryKey: []string{"TransactionID"}, Watermark: "ModifiedDate"},
	}
}

func finish(ctx context.Context, dir string, m *Manifest) error {
	m.DefectCounts = map[string]int{}
	for _, d := range m.Defects {
		m.DefectCounts[d.Kind]++
	}
	// Count each hospital's rows, hospitals in parallel (a large EMR takes seconds to count).
	errs := make([]error, len(m.Hospitals))
	var wg sync.WaitGroup
	for i := range m.Hospitals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, d, err := openEMR(dir, m.Hospitals[i])
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			rows := map[string]int{}
			for _, t := range m.Hospitals[i].Tables {
				var n int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+qualify(d, m.Hospitals[i], t.Name)).Scan(&n); err != nil {
					errs[i] = err
					return
				}
				rows[t.Name] = n
			}
			m.Hospitals[i].Rows = rows
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return WriteConfig(dir, m)
}

// openEMR opens a hospital's EMR: its SQLite file in the world folder, or the PostgreSQL
// database, where each hospital has a schema of its own.
func openEMR(dir string, h HospitalInfo) (*sql.DB, sqldb.Dialect, error) {
	dsn := h.DSN
	if h.Driver == "sqlite" {
		dsn = filepath.Join(dir, h.DSN)
	}
	db, d, err := sqldb.Open(h.Driver, dsn)
	if err != nil {
		return nil, nil, err
	}
	if h.Schema != "" {
		if _, err := db.Exec("CREATE SCHEMA IF NOT EXISTS " + d.QuoteIdent(h.Schema)); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return db, d, nil
}

// qualify names a table of a hospital's EMR.
func qualify(d sqldb.Dialect, h HospitalInfo, table string) string {
	if h.Schema != "" {
		return d.QuoteIdent(h.Schema + "." + table)
	}
	return d.QuoteIdent(table)
}

// values is "(p1, p2, ...)" in the dialect's placeholders.
func values(d sqldb.Dialect, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.Placeholder(i + 1)
	}
	return "(" + strings.Join(ps, ", ") + ")"
}

func writeCPT(dir string, m *Manifest) error {
	m.CPTFile = "landing/cptcodes/cptcodes.csv"
	f, err := os.Create(filepath.Join(dir, m.CPTFile))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"Procedure Code Category", "CPT Codes", "Procedure Code Descriptions", "Code Status"})
	for _, c := range cptCodes {
		w.Write([]string{c.category, c.code, c.description, "No Change"})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func nullable(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func money(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// hospitalGen is one hospital's generator. It carries, from month to month, which of the
// recent charges have something happening in which month, so a month only revisits the
// charges it changes instead of replaying the last ten months of charges.
type hospitalGen struct {
	o        Options
	h        HospitalInfo
	s        sizes
	activity map[int][]uint16 // charge month → per charge, bit i set when it changes in month+i
	defects  []Defect
	claims   string
	fresh    bool // a new world, not a month appended to an existing one
}

func newHospitalGens(o Options, m *Manifest, fresh bool) []*hospitalGen {
	gens := make([]*hospitalGen, len(m.Hospitals))
	for i, h := range m.Hospitals {
		gens[i] = &hospitalGen{o: o, h: h, s: sizeOf(o, h.Index), activity: map[int][]uint16{}, fresh: fresh}
	}
	return gens
}

// generateMonth writes month `month` of every hospital, in parallel: new and changed EMR
// rows, deletes, and the month's claims file. Defects and files reach the manifest in
// hospital order, so the manifest does not depend on scheduling.
func generateMonth(ctx context.Context, dir string, gens []*hospitalGen, m *Manifest, month int) error {
	// Generation allocates gigabytes of short-lived values over a small live heap; collecting
	// at 4x the live heap instead of 2x cuts the collector's CPU by about a tenth for a few
	// dozen MB more.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	errs := make([]error, len(gens))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, g := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := g.month(ctx, dir, month); err != nil {
				errs[i] = fmt.Errorf("%s month %d: %w", g.h.Name, month, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, g := range gens {
		m.Defects = append(m.Defects, g.defects...)
		m.ClaimsFiles = append(m.ClaimsFiles, g.claims)
		g.defects = nil
	}
	m.Months = month + 1
	return nil
}

// batchRows is how many rows one INSERT statement carries: fewer statements is most of
// the speed of a bulk load, in SQLite as in PostgreSQL.
const batchRows = 256

// batch buffers rows of parameters and runs one statement per batchRows rows. It talks to
// the driver's connection directly (inside the month's transaction on that connection):
// database/sql's per-call argument conversion was a third of the generator's allocations.
type batch struct {
	ctx       context.Context
	conn      *sql.Conn
	ncols     int
	statement func(rows int) string
	full      driver.Stmt
	args      []driver.NamedValue
}

func newBatch(ctx context.Context, conn *sql.Conn, ncols int, statement func(rows int) string) (*batch, error) {
	b := &batch{ctx: ctx, conn: conn, ncols: ncols, statement: statement}
	err := conn.Raw(func(dc any) (err error) {
		b.full, err = dc.(driver.ConnPrepareContext).PrepareContext(ctx, statement(batchRows))
		return err
	})
	return b, err
}

// valueRows is "(p1, p2), (p3, p4)", rows tuples of ncols placeholders.
func valueRows(d sqldb.Dialect, rows, ncols int) string {
	var b strings.Builder
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < ncols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Placeholder(r*ncols + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// newInserter batches INSERTs into table.
func newInserter(ctx context.Context, conn *sql.Conn, d sqldb.Dialect, table string, ncols int) (*batch, error) {
	return newBatch(ctx, conn, ncols, func(rows int) string {
		return "INSERT INTO " + table + " VALUES " + valueRows(d, rows, ncols)
	})
}

func (b *batch) add(vals ...any) error {
	for _, v := range vals {
		b.args = append(b.args, driver.NamedValue{Ordinal: len(b.args) + 1, Value: v})
	}
	if len(b.args) < batchRows*b.ncols {
		return nil
	}
	return b.exec(b.full)
}

func (b *batch) exec(stmt driver.Stmt) error {
	err := b.conn.Raw(func(any) error {
		_, err := stmt.(driver.StmtExecContext).ExecContext(b.ctx, b.args)
		return err
	})
	b.args = b.args[:0]
	return err
}

// close runs the rows still buffered and releases the statement.
func (b *batch) close() error {
	var err error
	if len(b.args) > 0 {
		err = b.conn.Raw(func(dc any) error {
			stmt, err := dc.(driver.ConnPrepareContext).PrepareContext(b.ctx, b.statement(len(b.args)/b.ncols))
			if err != nil {
				return err
			}
			defer stmt.Close()
			_, err = stmt.(driver.StmtExecContext).ExecContext(b.ctx, b.args)
			return err
		})
		b.args = b.args[:0]
	}
	return errors.Join(err, b.conn.Raw(func(any) error { return b.full.Close() }))
}

// activityOf is, per charge of month cm, the months (as bits from cm) in which it changes.
// A month generated in this process has it already; after --append-month it is rebuilt.
func (g *hospitalGen) activityOf(cm int) []uint16 {
	if a, ok := g.activity[cm]; ok {
		return a
	}
	a := make([]uint16, g.s.chargesPerMonth)
	for k := range a {
		a[k] = chargeAt(g.o, g.h.Hospital, g.s, cm, k).activity(g.o)
	}
	g.activity[cm] = a
	return a
}

func (g *hospitalGen) month(ctx context.Context, dir string, month int) error {
	o, hi, s := g.o, g.h, g.s
	h := hi.Hospital
	db, d, err := openEMR(dir, hi)
	if err != nil {
		return err
	}
	q := func(table string) string { return qualify(d, hi, table) }
	real := d.TypeName("DOUBLE PRECISION")
	defer db.Close()
	if hi.Driver == "sqlite" {
		// Durability against power loss buys nothing while writing a world, so skip the
		// fsyncs. A new world also skips the rollback journal: if its generation fails, the
		// world is generated again from scratch, and its larger pages make fewer B-tree
		// splits (page_size applies until the first table exists). An appended month keeps the journal, so a
		// failed append rolls back and leaves the world as it was.
		// A 64 MB page cache (SQLite's default is 2 MB) keeps the recent charges' pages,
		// which a month's payments update, in memory: about a tenth less CPU at 10M
		// transactions.
		pragmas := []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -65536"}
		if g.fresh {
			pragmas = append(pragmas, "PRAGMA journal_mode = OFF", "PRAGMA page_size = 16384")
		}
		for _, p := range pragmas {
			if _, err := db.ExecContext(ctx, p); err != nil {
				return err
			}
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	pcols := []string{"PatientID", "FirstName", "LastName", "MiddleName", "SSN", "PhoneNumber", "Gender", "DOB", "Address", "ModifiedDate"}
	if h.Style == "b" {
		pcols = []string{"ID", "F_Name", "L_Name", "M_Name", "SSN", "PhoneNumber", "Gender", "DOB", "Address", "Updated_Date"}
	}
	if month == 0 {
		// Column names are created quoted, so PostgreSQL keeps their case as the seed's EMRs do.
		cols := func(names ...string) string {
			out := make([]string, len(names))
			for i, n := range names {
				typ := "TEXT"
				if n == "Amount" || n == "PaidAmount" {
					typ = real
				}
				out[i] = d.QuoteIdent(n) + " " + typ
			}
			return "(" + strings.Join(out, ", ") + ")"
		}
		ddl := []string{
			"CREATE TABLE " + q("patients") + " " + cols(pcols...),
			"CREATE TABLE " + q("providers") + " " + cols("ProviderID", "FirstName", "LastName", "Specialization", "DeptID", "NPI"),
			"CREATE TABLE " + q("departments") + " " + cols("DeptID", "Name"),
			"CREATE TABLE " + q("encounters") + " " + cols("EncounterID", "PatientID", "EncounterDate", "EncounterType", "ProviderID", "DepartmentID", "ProcedureCode", "InsertedDate", "ModifiedDate"),
			"CREATE TABLE " + q("transactions") + " " + cols("TransactionID", "EncounterID", "PatientID", "ProviderID", "DeptID", "VisitDate", "ServiceDate", "PaidDate", "VisitType", "Amount", "AmountType", "PaidAmount", "ClaimID", "PayorID", "ProcedureCode", "ICDCode", "LineOfBusiness", "MedicaidID", "MedicareID", "InsertDate", "ModifiedDate"),
		}
		// Lookup indexes, as an EMR has them (not unique: planted duplicates and NULL keys
		// must fit); without them every monthly update would scan its table.
		for _, ix := range [][2]string{{"patients", pcols[0]}, {"transactions", "TransactionID"}} {
			ddl = append(ddl, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", d.QuoteIdent("ix_"+strings.ReplaceAll(hi.Code, "-", "_")+"_"+ix[0]), q(ix[0]), d.QuoteIdent(ix[1])))
		}
		// Watermark indexes, as a DBA adds them for incremental extraction: on the very
		// expression rcmlake's extraction query compares (a cast in SQLite), or an
		// incremental month would scan the whole table and grow with its history.
		for _, t := range tableInfos(h.Style) {
			if t.Watermark != "" {
				ddl = append(ddl, fmt.Sprintf("CREATE INDEX %s ON %s ((%s))", d.QuoteIdent("wm_"+strings.ReplaceAll(hi.Code, "-", "_")+"_"+t.Name), q(t.Name), d.WatermarkExpr(d.QuoteIdent(t.Watermark))))
			}
		}
		for _, q := range ddl {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for i, name := range departments {
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+q("departments")+" VALUES "+values(d, 2), deptID(i), name); err != nil {
				return err
			}
		}
		for i := 0; i < s.providers; i++ {
			p := providerAt(o, h, i)
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+q("providers")+" VALUES "+values(d, 6), p.id, p.first, p.last, p.spec, p.dept, p.npi); err != nil {
				return err
			}
		}
	}
	monthEnd := o.monthStart(month + 1).Add(-time.Nanosecond)

	// Patients: the month's new ones, then changes and deletes of earlier ones.
	insP, err := newInserter(ctx, conn, d, q("patients"), 10)
	if err != nil {
		return err
	}
	updP, err := tx.PrepareContext(ctx, fmt.Sprintf("UPDATE %s SET %s = %s, %s = %s, %s = %s, %s = %s, %s = %s, %s = %s WHERE %s = %s", q("patients"),
		d.QuoteIdent(pcols[1]), d.Placeholder(1), d.QuoteIdent(pcols[2]), d.Placeholder(2), d.QuoteIdent(pcols[3]), d.Placeholder(3),
		d.QuoteIdent("PhoneNumber"), d.Placeholder(4), d.QuoteIdent("Address"), d.Placeholder(5), d.QuoteIdent(pcols[9]), d.Placeholder(6),
		d.QuoteIdent(pcols[0]), d.Placeholder(7)))
	if err != nil {
		return err
	}
	delP, err := tx.PrepareContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = %s", q("patients"), d.QuoteIdent(pcols[0]), d.Placeholder(1)))
	if err != nil {
		return err
	}
	for i := 0; i < s.patientsBy(month); i++ {
		created := s.createdMonth(i)
		if created != month && !deletable(i) && !changesIn(o, h, i, month) {
			continue // the common case, decided without replaying the patient's life
		}
		p := patientAt(o, h, s, i, month)
		if created == month {
			var id any = p.id
			if p.defect == "null_key" {
				id = nil
			}
			if err := insP.add(id, nullable(p.first), nullable(p.last), nullable(p.middle), p.ssn, p.phone, p.gender, p.dob, p.address, ymd(p.modified)); err != nil {
				return err
			}
			switch p.defect {
			case "literal_null":
				g.defects = append(g.defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: pcols[1], Month: month})
			case "unparseable_date":
				g.defects = append(g.defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: "DOB", Month: month})
			case "null_key":
				g.defects = append(g.defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: pcols[0], Month: month})
			}
			continue
		}
		if p.defect != "" {
			continue // defective rows are frozen
		}
		if o.monthOf(p.modified) != month {
			continue
		}
		if p.deleted {
			_, err = delP.ExecContext(ctx, p.id)
		} else {
			_, err = updP.ExecContext(ctx, nullable(p.first), nullable(p.last), nullable(p.middle), p.phone, p.address, ymd(p.modified), p.id)
		}
		if err != nil {
			return err
		}
	}
	if err := insP.close(); err != nil {
		return err
	}

	// Charges: payments, appeals and voids of earlier ones; the month's new ones.
	insT, err := newInserter(ctx, conn, d, q("transactions"), 21)
	if err != nil {
		return err
	}
	insE, err := newInserter(ctx, conn, d, q("encounters"), 9)
	if err != nil {
		return err
	}
	// Payments are batched too: one UPDATE ... FROM a VALUES list (SQLite 3.33+, PostgreSQL).
	updT, err := newBatch(ctx, conn, 4, func(rows int) string {
		return fmt.Sprintf("WITH v(id, paid_date, paid, modified) AS (VALUES %s) UPDATE %s SET %s = v.paid_date, %s = CAST(v.paid AS %s), %s = v.modified FROM v WHERE %s.%s = v.id",
			valueRows(d, rows, 4), q("transactions"), d.QuoteIdent("PaidDate"), d.QuoteIdent("PaidAmount"), real, d.QuoteIdent("ModifiedDate"),
			q("transactions"), d.QuoteIdent("TransactionID"))
	})
	if err != nil {
		return err
	}
	g.claims = fmt.Sprintf("landing/claims/%s%s.csv", h.ClaimsFile, o.monthStart(month).Format("2006-01"))
	cf, err := os.Create(filepath.Join(dir, g.claims))
	if err != nil {
		return err
	}
	defer cf.Close()
	bw := bufio.NewWriterSize(cf, 1<<16)
	cw := csv.NewWriter(bw)
	cw.Write([]string{"ClaimID", "TransactionID", "PatientID", "EncounterID", "ProviderID", "DeptID", "ServiceDate", "ClaimDate",
		"PayorID", "ClaimAmount", "PaidAmount", "ClaimStatus", "PayorType", "Deductible", "Coinsurance", "Copay", "InsertDate",
		"ModifiedDate", "AllowedAmount", "PaidDate", "DenialReason"})
	line := 1
	from, to := o.monthStart(month), o.monthStart(month+1)
	claimRow := func(c charge) error {
		// The claims file of the month: every claim with an event in the month.
		if c.defect != "" || !c.eventIn(from, to) {
			return nil
		}
		ev, _ := c.stateAt(monthEnd)
		rec := []string{c.claimID, c.txnID, c.patientID, c.encID, c.providerID, c.dept, ymd(c.service),
			ymd(c.claimDate), c.payer.name, money(c.amount), "0.00", ev.status, c.payer.kind,
			money(c.deductible), money(c.coins), money(c.copay), ymd(c.claimDate), ymd(ev.date),
			money(c.allowed), "", ""}
		if ev.status == "Paid" {
			rec[10], rec[19] = money(c.paid), ymd(c.paidDate)
		}
		if ev.status == "Denied" || (c.denialReason != "" && ev.status != "Pending") {
			rec[20] = c.denialReason
		}
		line++
		if rng(o.Seed, "claim-row", h.Index, month, c.claimID).IntN(800) == 0 {
			rec = append(rec, "unexpected")
			g.defects = append(g.defects, Defect{Kind: "wrong_field_count", Table: "claims", Datasource: h.Code, Key: c.claimID,
				File: g.claims, Line: line, Month: month})
		}
		return cw.Write(rec)
	}
	for cm := max(0, month-10); cm < month; cm++ {
		for k, a := range g.activityOf(cm) {
			if a&(1<<(month-cm)) == 0 {
				continue
			}
			c := chargeAt(o, h, s, cm, k)
			switch {
			case c.voidedMonth == month: // a voided charge leaves the EMR; its encounter (the visit) stays
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+q("transactions")+" WHERE "+d.QuoteIdent("TransactionID")+" = "+d.Placeholder(1), c.txnID); err != nil {
					return err
				}
			case c.voidedMonth >= 0 && c.voidedMonth < month:
			case c.paidBy(monthEnd) && !c.paidBy(from.Add(-time.Nanosecond)):
				if err := updT.add(c.txnID, ymd(c.paidDate), money(c.paid), ymd(c.modifiedAt(monthEnd))); err != nil { // text: VALUES columns are untyped in PostgreSQL
					return err
				}
			}
			if err := claimRow(c); err != nil {
				return err
			}
		}
	}
	act := make([]uint16, s.chargesPerMonth)
	for k := range act {
		c := chargeAt(o, h, s, month, k)
		act[k] = c.activity(o)
		copies := 1
		if c.defect == "duplicate_key" {
			copies = 2
		}
		for range copies {
			if err := insertCharge(insT, insE, c, monthEnd); err != nil {
				return err
			}
		}
		if c.defect != "" {
			col := map[string]string{"negative_amount": "Amount", "orphan_fk": "PatientID", "duplicate_key": "TransactionID", "unparseable_date": "ServiceDate"}[c.defect]
			g.defects = append(g.defects, Defect{Kind: c.defect, Table: "transactions", Datasource: h.Code, Key: c.txnID, Column: col, Month: month})
		}
		if err := claimRow(c); err != nil {
			return err
		}
	}
	g.activity[month] = act
	delete(g.activity, month-10)
	if err := errors.Join(updT.close(), insT.close(), insE.close()); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return tx.Commit()
}

func insertCharge(insT, insE *batch, c charge, monthEnd time.Time) error {
	var paidDate, paid any
	if c.paidBy(monthEnd) {
		paidDate, paid = ymd(c.paidDate), c.paid
	}
	medicaid, medicare := "", ""
	if c.payer.name == "Medicaid" {
		medicaid = "MCD" + c.patientID[6:]
	}
	if c.payer.name == "Medicare" {
		medicare = "MCR" + c.patientID[6:]
	}
	if err := insT.add(c.txnID, c.encID, c.patientID, c.providerID, c.dept, ymd(c.service), c.serviceText,
		paidDate, c.visitType, c.amount, c.payer.amountType, paid, c.claimID, c.payer.name, c.cpt.code, c.icd, c.payer.lob,
		emptyNull(medicaid), emptyNull(medicare), ymd(c.inserted), ymd(c.modifiedAt(monthEnd))); err != nil {
		return err
	}
	return insE.add(c.encID, c.patientID, ymd(c.service), c.encounterType, c.providerID, c.dept,
		c.cpt.code, ymd(c.inserted), ymd(c.inserted))
}

func emptyNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
