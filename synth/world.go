package synth

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	for _, sub := range []string{"emr", "landing/claims", "landing/cptcodes"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Seed: o.Seed, Scale: o.Scale, Start: o.Start.Format(dateFmt), DefectCounts: map[string]int{}}
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
	for month := 0; month < o.Months; month++ {
		if err := generateMonth(ctx, dir, o, m, month); err != nil {
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
	if err := generateMonth(ctx, dir, o, m, m.Months); err != nil {
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
	for i := range m.Hospitals {
		db, d, err := openEMR(dir, m.Hospitals[i])
		if err != nil {
			return err
		}
		for _, t := range m.Hospitals[i].Tables {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+qualify(d, m.Hospitals[i], t.Name)).Scan(&n); err != nil {
				db.Close()
				return err
			}
			m.Hospitals[i].Rows[t.Name] = n
		}
		db.Close()
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

// generateMonth writes month `month` of every hospital: new and changed EMR rows, deletes,
// and the month's claims file.
func generateMonth(ctx context.Context, dir string, o Options, m *Manifest, month int) error {
	for hi := range m.Hospitals {
		h := m.Hospitals[hi]
		if err := hospitalMonth(ctx, dir, o, m, h, month); err != nil {
			return fmt.Errorf("%s month %d: %w", h.Name, month, err)
		}
	}
	m.Months = month + 1
	return nil
}

func hospitalMonth(ctx context.Context, dir string, o Options, m *Manifest, hi HospitalInfo, month int) error {
	h := hi.Hospital
	s := sizeOf(o, h.Index)
	db, d, err := openEMR(dir, hi)
	if err != nil {
		return err
	}
	q := func(table string) string { return qualify(d, hi, table) }
	real := d.TypeName("DOUBLE PRECISION")
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
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
		for _, ix := range [][2]string{{"patients", pcols[0]}, {"transactions", "TransactionID"}, {"encounters", "EncounterID"}} {
			ddl = append(ddl, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", d.QuoteIdent("ix_"+strings.ReplaceAll(hi.Code, "-", "_")+"_"+ix[0]), q(ix[0]), d.QuoteIdent(ix[1])))
		}
		for _, q := range ddl {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for i, name := range departments {
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+q("departments")+" VALUES "+values(d, 2), fmt.Sprintf("DEPT%03d", i+1), name); err != nil {
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
	insP, err := tx.PrepareContext(ctx, "INSERT INTO "+q("patients")+" VALUES "+values(d, 10))
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
		p := patientAt(o, h, s, i, month)
		if created == month {
			var id any = p.id
			if p.defect == "null_key" {
				id = nil
			}
			if _, err := insP.ExecContext(ctx, id, nullable(p.first), nullable(p.last), nullable(p.middle), p.ssn, p.phone, p.gender, p.dob, p.address, p.modified.Format(dateFmt)); err != nil {
				return err
			}
			switch p.defect {
			case "literal_null":
				m.Defects = append(m.Defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: pcols[1], Month: month})
			case "unparseable_date":
				m.Defects = append(m.Defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: "DOB", Month: month})
			case "null_key":
				m.Defects = append(m.Defects, Defect{Kind: p.defect, Table: "patients", Datasource: h.Code, Key: p.id, Column: pcols[0], Month: month})
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
			_, err = updP.ExecContext(ctx, nullable(p.first), nullable(p.last), nullable(p.middle), p.phone, p.address, p.modified.Format(dateFmt), p.id)
		}
		if err != nil {
			return err
		}
	}

	// Charges: the month's new ones; payments, appeals and voids of earlier ones.
	insT, err := tx.PrepareContext(ctx, "INSERT INTO "+q("transactions")+" VALUES "+values(d, 21))
	if err != nil {
		return err
	}
	insE, err := tx.PrepareContext(ctx, "INSERT INTO "+q("encounters")+" VALUES "+values(d, 9))
	if err != nil {
		return err
	}
	updT, err := tx.PrepareContext(ctx, fmt.Sprintf("UPDATE %s SET %s = %s, %s = %s, %s = %s WHERE %s = %s", q("transactions"),
		d.QuoteIdent("PaidDate"), d.Placeholder(1), d.QuoteIdent("PaidAmount"), d.Placeholder(2), d.QuoteIdent("ModifiedDate"), d.Placeholder(3),
		d.QuoteIdent("TransactionID"), d.Placeholder(4)))
	if err != nil {
		return err
	}
	claimsName := fmt.Sprintf("landing/claims/%s%s.csv", h.ClaimsFile, o.monthStart(month).Format("2006-01"))
	cf, err := os.Create(filepath.Join(dir, claimsName))
	if err != nil {
		return err
	}
	defer cf.Close()
	cw := csv.NewWriter(cf)
	cw.Write([]string{"ClaimID", "TransactionID", "PatientID", "EncounterID", "ProviderID", "DeptID", "ServiceDate", "ClaimDate",
		"PayorID", "ClaimAmount", "PaidAmount", "ClaimStatus", "PayorType", "Deductible", "Coinsurance", "Copay", "InsertDate",
		"ModifiedDate", "AllowedAmount", "PaidDate", "DenialReason"})
	line := 1
	from, to := o.monthStart(month), o.monthStart(month+1)
	for cm := max(0, month-10); cm <= month; cm++ {
		for k := 0; k < s.chargesPerMonth; k++ {
			c := chargeAt(o, h, s, cm, k)
			if cm == month {
				if err := insertCharge(ctx, insT, insE, c, monthEnd); err != nil {
					return err
				}
				if c.defect == "duplicate_key" {
					if err := insertCharge(ctx, insT, insE, c, monthEnd); err != nil {
						return err
					}
				}
				if c.defect != "" {
					col := map[string]string{"negative_amount": "Amount", "orphan_fk": "PatientID", "duplicate_key": "TransactionID", "unparseable_date": "ServiceDate"}[c.defect]
					m.Defects = append(m.Defects, Defect{Kind: c.defect, Table: "transactions", Datasource: h.Code, Key: c.txnID, Column: col, Month: month})
				}
			} else if c.defect == "" {
				switch {
				case c.voidedMonth == month:
					if _, err := tx.ExecContext(ctx, "DELETE FROM "+q("transactions")+" WHERE "+d.QuoteIdent("TransactionID")+" = "+d.Placeholder(1), c.txnID); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, "DELETE FROM "+q("encounters")+" WHERE "+d.QuoteIdent("EncounterID")+" = "+d.Placeholder(1), c.encID); err != nil {
						return err
					}
				case c.voidedMonth >= 0 && c.voidedMonth < month:
				case c.paidBy(monthEnd) && !c.paidBy(from.Add(-time.Nanosecond)):
					if _, err := updT.ExecContext(ctx, c.paidDate.Format(dateFmt), c.paid, c.modifiedAt(monthEnd).Format(dateFmt), c.txnID); err != nil {
						return err
					}
				}
			}
			// The claims file of the month: every claim with an event in the month.
			if c.defect == "" && c.eventIn(from, to) {
				ev, _ := c.stateAt(monthEnd)
				rec := []string{c.claimID, c.txnID, c.patientID, c.encID, c.providerID, c.dept, c.service.Format(dateFmt),
					c.claimDate.Format(dateFmt), c.payer.name, money(c.amount), "0.00", ev.status, c.payer.kind,
					money(c.deductible), money(c.coins), money(c.copay), c.claimDate.Format(dateFmt), ev.date.Format(dateFmt),
					money(c.allowed), "", ""}
				if ev.status == "Paid" {
					rec[10], rec[19] = money(c.paid), c.paidDate.Format(dateFmt)
				}
				if ev.status == "Denied" || (c.denialReason != "" && ev.status != "Pending") {
					rec[20] = c.denialReason
				}
				line++
				if rng(o.Seed, "claim-row", h.Index, month, c.claimID).IntN(800) == 0 {
					rec = append(rec, "unexpected")
					m.Defects = append(m.Defects, Defect{Kind: "wrong_field_count", Table: "claims", Datasource: h.Code, Key: c.claimID,
						File: claimsName, Line: line, Month: month})
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	m.ClaimsFiles = append(m.ClaimsFiles, claimsName)
	return tx.Commit()
}

func insertCharge(ctx context.Context, insT, insE *sql.Stmt, c charge, monthEnd time.Time) error {
	var paidDate, paid any
	if c.paidBy(monthEnd) {
		paidDate, paid = c.paidDate.Format(dateFmt), c.paid
	}
	medicaid, medicare := "", ""
	if c.payer.name == "Medicaid" {
		medicaid = "MCD" + c.patientID[6:]
	}
	if c.payer.name == "Medicare" {
		medicare = "MCR" + c.patientID[6:]
	}
	if _, err := insT.ExecContext(ctx, c.txnID, c.encID, c.patientID, c.providerID, c.dept, c.service.Format(dateFmt), c.serviceText,
		paidDate, c.visitType, c.amount, c.payer.amountType, paid, c.claimID, c.payer.name, c.cpt.code, c.icd, c.payer.lob,
		emptyNull(medicaid), emptyNull(medicare), c.inserted.Format(dateFmt), c.modifiedAt(monthEnd).Format(dateFmt)); err != nil {
		return err
	}
	_, err := insE.ExecContext(ctx, c.encID, c.patientID, c.service.Format(dateFmt), c.encounterType, c.providerID, c.dept,
		c.cpt.code, c.inserted.Format(dateFmt), c.inserted.Format(dateFmt))
	return err
}

func emptyNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
