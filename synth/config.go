package synth

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rcmlake/rcmlake/config"
)

// patientColumns maps the CDM patient columns onto each schema style's source columns, by
// name: hospital B's ID, F_Name, L_Name, M_Name, Updated_Date are the same patient model.
var patientColumns = map[string]map[string]string{
	"a": {"patient_id": "PatientID", "first_name": "FirstName", "last_name": "LastName", "middle_name": "MiddleName",
		"ssn": "SSN", "phone_number": "PhoneNumber", "gender": "Gender", "dob": "DOB", "address": "Address", "modified_date": "ModifiedDate"},
	"b": {"patient_id": "ID", "first_name": "F_Name", "last_name": "L_Name", "middle_name": "M_Name",
		"ssn": "SSN", "phone_number": "PhoneNumber", "gender": "Gender", "dob": "DOB", "address": "Address", "modified_date": "Updated_Date"},
}

// Config is the pipeline config for a generated world: its EMRs, landing files and the
// silver mappings of both schema styles.
func Config(m *Manifest) *config.Config {
	yes := true
	cfg := &config.Config{Version: 1, Project: fmt.Sprintf("generated hospital network (seed %d)", m.Seed)}
	cfg.Lake.Root = "lake"
	cfg.Ingest.Parallelism = 5
	cfg.Sources.Landing = &config.Landing{Root: "landing", Archive: "archive"}
	entities := map[string]*config.Entity{}
	order := []string{"patients", "providers", "departments", "encounters", "transactions", "claims"}
	for _, name := range order {
		entities[name] = &config.Entity{Name: name, History: "scd2", Deletes: "close"}
	}
	entities["patients"].Key = []string{"patient_key"}
	entities["providers"].Key = []string{"provider_key"}
	entities["departments"].Key = []string{"department_key"}
	entities["encounters"].Key = []string{"encounter_key"}
	entities["transactions"].Key = []string{"transaction_key"}
	entities["claims"].Key = []string{"claim_key"}
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
				tbl.Load, tbl.Watermark = config.LoadIncremental, t.Watermark
			}
			db.Tables = append(db.Tables, tbl)
		}
		cfg.Sources.EMR = append(cfg.Sources.EMR, db)
		cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, config.LandingFile{
			Pattern: "claims/" + h.ClaimsFile + "*.csv", Datasource: h.Code, Table: "claims",
			Columns: []config.ExpectedColumn{{Name: "ClaimID", Required: true}, {Name: "TransactionID", Required: true}, {Name: "ClaimStatus", Required: true}},
		})
		src := func(table string, cols map[string]string) config.EntitySource {
			return config.EntitySource{Datasource: h.Code, Table: table, Columns: cols}
		}
		entities["patients"].Sources = append(entities["patients"].Sources, src("patients", patientColumns[h.Style]))
		// Transactions and encounters name providers without the hospital's prefix: the
		// mapping adds it, so their keys meet the providers'.
		prov := fmt.Sprintf("'%s' || ProviderID", h.ProvPrefix)
		entities["providers"].Sources = append(entities["providers"].Sources, src("providers", map[string]string{
			"provider_id": "ProviderID", "first_name": "FirstName", "last_name": "LastName", "specialization": "Specialization",
			"department_id": "DeptID", "npi": "NPI"}))
		entities["departments"].Sources = append(entities["departments"].Sources, src("departments", map[string]string{
			"department_id": "DeptID", "name": "Name"}))
		entities["encounters"].Sources = append(entities["encounters"].Sources, src("encounters", map[string]string{
			"encounter_id": "EncounterID", "patient_id": "PatientID", "encounter_date": "EncounterDate", "encounter_type": "EncounterType",
			"provider_id": prov, "department_id": "DepartmentID", "procedure_code": "ProcedureCode", "inserted_date": "InsertedDate",
			"modified_date": "ModifiedDate"}))
		entities["transactions"].Sources = append(entities["transactions"].Sources, src("transactions", map[string]string{
			"transaction_id": "TransactionID", "encounter_id": "EncounterID", "patient_id": "PatientID", "provider_id": prov,
			"department_id": "DeptID", "visit_date": "VisitDate", "service_date": "ServiceDate", "paid_date": "PaidDate",
			"visit_type": "VisitType", "amount": "Amount", "amount_type": "AmountType", "paid_amount": "PaidAmount",
			"claim_id": "ClaimID", "payor_id": "PayorID", "procedure_code": "ProcedureCode", "icd_code": "ICDCode",
			"line_of_business": "LineOfBusiness", "medicaid_id": "MedicaidID", "medicare_id": "MedicareID",
			"insert_date": "InsertDate", "modified_date": "ModifiedDate"}))
		entities["claims"].Sources = append(entities["claims"].Sources, src("claims", map[string]string{
			"claim_id": "ClaimID", "transaction_id": "TransactionID", "patient_id": "PatientID", "encounter_id": "EncounterID",
			"provider_id": prov, "department_id": "DeptID", "service_date": "ServiceDate", "claim_date": "ClaimDate",
			"payer_name": "PayorID", "claim_amount": "ClaimAmount", "paid_amount": "PaidAmount", "claim_status": "ClaimStatus",
			"payer_type": "PayorType", "deductible": "Deductible", "coinsurance": "Coinsurance", "copay": "Copay",
			"allowed_amount": "AllowedAmount", "paid_date": "PaidDate", "denial_reason": "DenialReason",
			"insert_date": "InsertDate", "modified_date": "ModifiedDate"}))
	}
	cfg.Sources.Landing.Files = append(cfg.Sources.Landing.Files, config.LandingFile{Pattern: "cptcodes/*.csv", Datasource: "ref", Table: "cpt_codes"})
	// The seed's quality rules, and the rules that catch the generator's planted defects.
	entities["patients"].Rules = []config.Rule{
		{Name: "patient_id_present", Type: "not_null", Columns: []string{"patient_id"}, Severity: "quarantine"},
		{Name: "first_name_present", Type: "not_null", Columns: []string{"first_name"}, Values: []string{"NULL"}, Severity: "quarantine"},
		{Name: "dob_present", Type: "not_null", Columns: []string{"dob"}, Values: []string{"NULL"}, Severity: "quarantine"},
		{Name: "dates_parse", Type: "expression", Expr: "_cast_errors = ''", Severity: "quarantine"},
	}
	entities["transactions"].Rules = []config.Rule{
		{Name: "transaction_key_unique", Type: "unique", Columns: []string{"transaction_key"}, Severity: "quarantine"},
		{Name: "amount_not_negative", Type: "range", Columns: []string{"amount"}, Min: ptrF(0), Severity: "quarantine"},
		{Name: "patient_exists", Type: "relationships", Columns: []string{"patient_key"}, To: "patients.patient_key", Severity: "quarantine"},
		{Name: "dates_parse", Type: "expression", Expr: "_cast_errors = ''", Severity: "quarantine"},
	}
	for _, name := range order {
		cfg.Silver.Entities = append(cfg.Silver.Entities, *entities[name])
	}
	cfg.Roles = []config.Role{
		{Name: "admin", Grants: []string{"all on catalog"}, PHI: true},
		{Name: "data_engineer", Grants: []string{"select on catalog"}, PHI: true},
		{Name: "analyst", Grants: []string{"select on gold.*", "select on silver.*"}},
		{Name: "viewer", Grants: []string{"select on gold.*"}},
	}
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
