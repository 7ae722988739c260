package synth

import (
	"os"
	"path/filepath"

	"github.com/rcmlake/rcmlake/source/icd"
	"github.com/rcmlake/rcmlake/source/npi"
)

// Offline reference data: the world works without the network. The NPI Registry's answers
// for every provider of every hospital are written in the registry's v2.1 format, served
// from disk through the client's file:// mode, and the diagnoses charges carry are written as
// a CMS ICD-10-CM order file.
const (
	NPIFixtures  = "ref/npi"
	ICDOrderFile = "ref/icd10cm_order.txt"
	// NPPESFile is the same providers as an NPPES monthly dissemination file, for
	// sources.apis.npi kind bulk.
	NPPESFile = "ref/npidata_pfile.csv"
)

// icdTitles are the long descriptions of the codes charges draw from.
var icdTitles = map[string]string{
	"I10": "Essential (primary) hypertension", "E11.9": "Type 2 diabetes mellitus without complications",
	"J06.9": "Acute upper respiratory infection, unspecified", "M54.5": "Low back pain",
	"K21.9": "Gastro-esophageal reflux disease without esophagitis", "F41.1": "Generalized anxiety disorder",
	"J45.909": "Unspecified asthma, uncomplicated", "N39.0": "Urinary tract infection, site not specified",
	"R07.9": "Chest pain, unspecified", "E78.5": "Hyperlipidemia, unspecified",
	"I25.10": "Atherosclerotic heart disease of native coronary artery without angina pectoris",
	"M17.11": "Unilateral primary osteoarthritis, right knee",
	"K80.20": "Calculus of gallbladder without cholecystitis without obstruction",
	"Z00.00": "Encounter for general adult medical examination without abnormal findings",
	"R51.9":  "Headache, unspecified", "S83.241A": "Other tear of medial meniscus, current injury, right knee, initial encounter",
	"C50.911": "Malignant neoplasm of unspecified site of right female breast",
	"G43.909": "Migraine, unspecified, not intractable, without status migrainosus", "L70.0": "Acne vulgaris",
	"Z23": "Encounter for immunization",
}

func writeReference(dir string, o Options, m *Manifest) error {
	var provs []npi.Provider
	for h := range m.Hospitals {
		for i := 0; i < sizeOf(o, h).providers; i++ {
			p := providerAt(o, hospital(h), i)
			provs = append(provs, npi.Provider{NPI: p.npi, EnumerationType: "NPI-1", Status: "A", FirstName: p.first,
				LastName: p.last, Credential: "MD", TaxonomyDesc: p.spec, Source: "api"})
		}
	}
	if err := npi.WriteFixtures(filepath.Join(dir, NPIFixtures), provs); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, NPPESFile), func(f *os.File) error { return npi.WriteBulk(f, provs) }); err != nil {
		return err
	}
	yes := true
	var codes []icd.Code
	for i, c := range icdCodes {
		codes = append(codes, icd.Code{System: icd.ICD10CM, Code: c, Title: icdTitles[c], ShortTitle: icdTitles[c], Billable: &yes,
			Kind: "billable", Order: int64(i + 1), Source: icd.FromCMS})
	}
	return writeFile(filepath.Join(dir, ICDOrderFile), func(f *os.File) error { return icd.WriteOrderFile(f, codes) })
}

func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
