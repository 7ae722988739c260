package config

import "fmt"

// SeedHospital describes one EMR in the seed project's shape: its datasource code, which of
// the two patient schemas it uses, and the prefix its provider ids carry.
type SeedHospital struct {
	Datasource     string
	Style          string // "a": PatientID, FirstName, ..., ModifiedDate; "b": ID, F_Name, ..., Updated_Date
	ProviderPrefix string // H1-, H2-: providers carry it, transactions, encounters and claims do not
}

// SeedPatientColumns maps the CDM patient columns onto each schema style's columns, by name:
// hospital B's ID, F_Name, L_Name, M_Name, Updated_Date are the same patient model as A's.
var SeedPatientColumns = map[string]map[string]string{
	"a": {"patient_id": "PatientID", "first_name": "FirstName", "last_name": "LastName", "middle_name": "MiddleName",
		"ssn": "SSN", "phone_number": "PhoneNumber", "gender": "Gender", "dob": "DOB", "address": "Address", "modified_date": "ModifiedDate"},
	"b": {"patient_id": "ID", "first_name": "F_Name", "last_name": "L_Name", "middle_name": "M_Name",
		"ssn": "SSN", "phone_number": "PhoneNumber", "gender": "Gender", "dob": "DOB", "address": "Address", "modified_date": "Updated_Date"},
}

// SeedEntities are the silver entities of the seed project's data model over these
// hospitals, with the seed's quality rules: a patient is quarantined when its id, date of
// birth or first name is null or the string 'NULL'; a transaction when one of its keys or its
// visit date is missing.
func SeedEntities(hospitals []SeedHospital) []Entity {
	order := []string{"patients", "providers", "departments", "encounters", "transactions", "claims"}
	entities := map[string]*Entity{}
	for _, name := range order {
		key := map[string]string{"patients": "patient_key", "providers": "provider_key", "departments": "department_key",
			"encounters": "encounter_key", "transactions": "transaction_key", "claims": "claim_key"}[name]
		entities[name] = &Entity{Name: name, Key: []string{key}, History: "scd2", Deletes: "close"}
	}
	for _, h := range hospitals {
		src := func(table string, cols map[string]string) EntitySource {
			return EntitySource{Datasource: h.Datasource, Table: table, Columns: cols}
		}
		// Transactions, encounters and claims name providers without the hospital's prefix:
		// the mapping adds it, so their keys meet the providers'.
		prov := fmt.Sprintf("'%s' || ProviderID", h.ProviderPrefix)
		add := func(entity string, s EntitySource) { entities[entity].Sources = append(entities[entity].Sources, s) }
		add("patients", src("patients", SeedPatientColumns[h.Style]))
		add("providers", src("providers", map[string]string{
			"provider_id": "ProviderID", "first_name": "FirstName", "last_name": "LastName", "specialization": "Specialization",
			"department_id": "DeptID", "npi": "NPI"}))
		add("departments", src("departments", map[string]string{"department_id": "DeptID", "name": "Name"}))
		add("encounters", src("encounters", map[string]string{
			"encounter_id": "EncounterID", "patient_id": "PatientID", "encounter_date": "EncounterDate", "encounter_type": "EncounterType",
			"provider_id": prov, "department_id": "DepartmentID", "procedure_code": "ProcedureCode", "inserted_date": "InsertedDate",
			"modified_date": "ModifiedDate"}))
		add("transactions", src("transactions", map[string]string{
			"transaction_id": "TransactionID", "encounter_id": "EncounterID", "patient_id": "PatientID", "provider_id": prov,
			"department_id": "DeptID", "visit_date": "VisitDate", "service_date": "ServiceDate", "paid_date": "PaidDate",
			"visit_type": "VisitType", "amount": "Amount", "amount_type": "AmountType", "paid_amount": "PaidAmount",
			"claim_id": "ClaimID", "payor_id": "PayorID", "procedure_code": "ProcedureCode", "icd_code": "ICDCode",
			"line_of_business": "LineOfBusiness", "medicaid_id": "MedicaidID", "medicare_id": "MedicareID",
			"insert_date": "InsertDate", "modified_date": "ModifiedDate"}))
		add("claims", src("claims", map[string]string{
			"claim_id": "ClaimID", "transaction_id": "TransactionID", "patient_id": "PatientID", "encounter_id": "EncounterID",
			"provider_id": prov, "department_id": "DeptID", "service_date": "ServiceDate", "claim_date": "ClaimDate",
			"payer_name": "PayorID", "claim_amount": "ClaimAmount", "paid_amount": "PaidAmount", "claim_status": "ClaimStatus",
			"payer_type": "PayorType", "deductible": "Deductible", "coinsurance": "Coinsurance", "copay": "Copay",
			"insert_date": "InsertDate", "modified_date": "ModifiedDate",
			// The seed's claims files have no allowed amount, paid date or denial reason;
			// a richer feed maps its own columns here.
			"allowed_amount": "NULL", "paid_date": "NULL", "denial_reason": "NULL"}))
	}
	// The CPT code file from landing (datasource "ref"), its headers normalised by bronze.
	// Reference codes are shared by every hospital: the key is the code itself.
	entities["cpt_codes"] = &Entity{Name: "cpt_codes", Key: []string{"cpt_code"}, History: "scd2", Deletes: "ignore",
		Sources: []EntitySource{{Datasource: "ref", Table: "cpt_codes", Columns: map[string]string{
			"cpt_code": "cpt_codes", "category": "procedure_code_category", "description": "procedure_code_descriptions",
			"code_status": "code_status"}}},
		Rules: []Rule{
			{Name: "cpt_code_present", Type: "not_null", Columns: []string{"cpt_code"}, Severity: "quarantine"},
			// Five characters: five digits (Category I) or four and F, T or U (II, III, PLA).
			{Name: "cpt_code_format", Type: "regex", Columns: []string{"cpt_code"}, Pattern: "^[0-9]{4}[0-9FTU]$", Severity: "quarantine"},
		}}
	order = append(order, "cpt_codes")
	entities["patients"].Rules = []Rule{
		{Name: "patient_id_present", Type: "not_null", Columns: []string{"patient_id"}, Severity: "quarantine"},
		{Name: "first_name_present", Type: "not_null", Columns: []string{"first_name"}, Values: []string{"NULL"}, Severity: "quarantine"},
		{Name: "dob_present", Type: "not_null", Columns: []string{"dob"}, Values: []string{"NULL"}, Severity: "quarantine"},
	}
	entities["transactions"].Rules = []Rule{
		{Name: "keys_present", Type: "not_null", Columns: []string{"transaction_id", "encounter_key", "patient_key"}, Values: []string{"NULL"}, Severity: "quarantine"},
		{Name: "visit_date_present", Type: "not_null", Columns: []string{"visit_date"}, Values: []string{"NULL"}, Severity: "quarantine"},
	}
	out := make([]Entity, 0, len(order))
	for _, name := range order {
		out = append(out, *entities[name])
	}
	return out
}

// ReferenceEntities are the silver entities of the reference APIs' bronze tables (datasource
// "ref"): npi from the NPPES NPI Registry and icd_codes from the ICD-10 source. Add them when
// sources.apis enables those APIs.
func ReferenceEntities() []Entity {
	return []Entity{
		{Name: "npi", Key: []string{"npi"}, History: "scd2", Deletes: "ignore",
			Sources: []EntitySource{{Datasource: "ref", Table: "npi", Columns: map[string]string{
				"npi": "npi", "enumeration_type": "enumeration_type", "status": "status", "first_name": "first_name",
				"last_name": "last_name", "middle_name": "middle_name", "credential": "credential",
				"organization_name": "organization_name", "taxonomy_code": "taxonomy_code", "taxonomy_desc": "taxonomy_desc",
				"taxonomy_state": "taxonomy_state", "city": "city", "state": "state", "postal_code": "postal_code",
				"enumeration_date": "enumeration_date", "last_updated": "last_updated",
				// The registry's own last-updated date orders the versions.
				"modified_date": "last_updated"}}},
			Rules: []Rule{{Name: "npi_format", Type: "regex", Columns: []string{"npi"}, Pattern: "^[0-9]{10}$", Severity: "quarantine"}}},
		{Name: "icd_codes", Key: []string{"code"}, History: "scd2", Deletes: "ignore",
			Sources: []EntitySource{{Datasource: "ref", Table: "icd_codes", Columns: map[string]string{
				"code": "code", "system": "system", "title": "title", "short_title": "short_title", "billable": "billable",
				"kind": "kind", "parent_code": "parent_code", "release": "release", "source": "source"}}},
			Rules: []Rule{{Name: "code_present", Type: "not_null", Columns: []string{"code"}, Severity: "quarantine"},
				{Name: "title_present", Type: "not_null", Columns: []string{"title"}, Severity: "warn"}}},
	}
}

// SeedClaimsColumns are the columns of the seed's monthly claims files. ClaimID,
// TransactionID and ClaimStatus are required; a column not named here lands in the rescued
// data column.
func SeedClaimsColumns() []ExpectedColumn {
	var out []ExpectedColumn
	for _, c := range []string{"ClaimID", "TransactionID", "PatientID", "EncounterID", "ProviderID", "DeptID", "ServiceDate",
		"ClaimDate", "PayorID", "ClaimAmount", "PaidAmount", "ClaimStatus", "PayorType", "Deductible", "Coinsurance", "Copay",
		"InsertDate", "ModifiedDate"} {
		out = append(out, ExpectedColumn{Name: c, Required: c == "ClaimID" || c == "TransactionID" || c == "ClaimStatus"})
	}
	return out
}

// SeedRoles are the default roles: who may read which layers, and who sees PHI.
func SeedRoles() []Role {
	return []Role{
		{Name: "admin", Grants: []string{"all on catalog"}, PHI: true},
		{Name: "data_engineer", Grants: []string{"select on catalog"}, PHI: true},
		{Name: "analyst", Grants: []string{"select on gold.*", "select on silver.*"}},
		{Name: "viewer", Grants: []string{"select on gold.*"}},
	}
}

// DefaultPHI are the PHI columns of the common data model and of the seed's source schemas
// (both patient layouts, and the member ids on transactions): names, SSN, date of birth,
// address, phone and Medicaid/Medicare ids. Providers' names are not PHI.
func DefaultPHI() []string {
	return []string{
		"*patient*.first_name", "*patient*.last_name", "*patient*.middle_name", "*patient*.dob",
		"*patient*.address", "*patient*.phone_number", "*.ssn",
		"patients.firstname", "patients.lastname", "patients.middlename",
		"patients.f_name", "patients.l_name", "patients.m_name", "patients.phonenumber",
		"*.medicaid_id", "*.medicare_id", "*.medicaidid", "*.medicareid",
	}
}
