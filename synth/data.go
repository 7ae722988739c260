package synth

// Reference lists the generator draws from. Charges, payment lags and denial rates are set so
// that the KPIs land where a real revenue cycle's do: Days in A/R around 40-60, denials 5-12%.

var firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa",
	"Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Wei", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
	"José", "Donna", "Kenneth", "Michelle", "Zoë", "Priya", "Ngozi", "Chloé", "Mohammed", "Aiko", "Olga", "Søren"}

var lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
	"Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Nguyen", "O'Brien", "Müller", "Kowalski"}

var streets = []string{"Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St", "Washington Blvd", "Lakeview Ct", "Hillcrest Way", "Sunset Ave"}

var cities = []struct{ city, state, zip string }{
	{"Springfield", "IL", "62701"}, {"Austin", "TX", "73301"}, {"Columbus", "OH", "43004"}, {"Denver", "CO", "80202"},
	{"Madison", "WI", "53703"}, {"Raleigh", "NC", "27601"}, {"Tucson", "AZ", "85701"}, {"Albany", "NY", "12207"},
}

var departments = []string{"Emergency", "Cardiology", "Neurology", "Oncology", "Pediatrics", "Orthopedics", "Dermatology",
	"Gastroenterology", "Urology", "Radiology", "Anesthesiology", "Pathology", "Surgery", "Pulmonology", "Nephrology",
	"Ophthalmology", "Gynecology", "Psychiatry", "Endocrinology", "Rheumatology"}

var specializations = []string{"Emergency Medicine", "Cardiology", "Neurology", "Oncology", "Pediatrics", "Orthopedics",
	"Dermatology", "Gastroenterology", "Urology", "Radiology", "Anesthesiology", "Pathology", "General Surgery", "Pulmonology",
	"Nephrology", "Ophthalmology", "Obstetrics and Gynecology", "Psychiatry", "Endocrinology", "Rheumatology"}

// cpt is a procedure with its list charge in dollars.
type cpt struct {
	category, code, description string
	charge                      float64
}

var cptCodes = []cpt{
	{"E/M", "99202", "Office or other outpatient visit, new patient, straightforward", 120},
	{"E/M", "99203", "Office or other outpatient visit, new patient, low complexity", 180},
	{"E/M", "99204", "Office or other outpatient visit, new patient, moderate complexity", 270},
	{"E/M", "99212", "Office or other outpatient visit, established patient, straightforward", 90},
	{"E/M", "99213", "Office or other outpatient visit, established patient, low complexity", 140},
	{"E/M", "99214", "Office or other outpatient visit, established patient, moderate complexity", 210},
	{"E/M", "99215", "Office or other outpatient visit, established patient, high complexity", 290},
	{"ED", "99283", "Emergency department visit, moderate severity", 480},
	{"ED", "99284", "Emergency department visit, high severity", 820},
	{"ED", "99285", "Emergency department visit, high severity with threat to life", 1350},
	{"CARD", "93000", "Electrocardiogram, routine, with interpretation and report", 75},
	{"CARD", "93306", "Echocardiography, transthoracic, complete, with Doppler", 950},
	{"CARD", "92928", "Percutaneous transcatheter placement of intracoronary stent", 14500},
	{"RAD", "71046", "Radiologic examination, chest; 2 views", 160},
	{"RAD", "70450", "CT head or brain; without contrast material", 1100},
	{"RAD", "72148", "MRI lumbar spine; without contrast material", 2200},
	{"LAB", "80053", "Comprehensive metabolic panel", 60},
	{"LAB", "85025", "Blood count; complete (CBC), automated, with differential", 35},
	{"LAB", "83036", "Hemoglobin; glycosylated (A1C)", 45},
	{"ORTH", "27447", "Arthroplasty, knee, condyle and plateau; total knee arthroplasty", 32000},
	{"ORTH", "29881", "Arthroscopy, knee, surgical; with meniscectomy", 7800},
	{"GI", "45378", "Colonoscopy, flexible; diagnostic", 2400},
	{"GI", "43239", "Esophagogastroduodenoscopy, flexible, transoral; with biopsy", 2100},
	{"SURG", "47562", "Laparoscopy, surgical; cholecystectomy", 12500},
	{"SURG", "49505", "Repair initial inguinal hernia, age 5 years or older; reducible", 6800},
	{"DERM", "11102", "Tangential biopsy of skin, single lesion", 210},
	{"PSYCH", "90834", "Psychotherapy, 45 minutes with patient", 160},
	{"PT", "97110", "Therapeutic procedure, 1 or more areas, each 15 minutes; exercises", 70},
	{"ANES", "00790", "Anesthesia for intraperitoneal procedures in upper abdomen", 1900},
	{"PED", "90460", "Immunization administration through 18 years of age, first component", 40},
}

var icdCodes = []string{"I10", "E11.9", "J06.9", "M54.5", "K21.9", "F41.1", "J45.909", "N39.0", "R07.9", "E78.5",
	"I25.10", "M17.11", "K80.20", "Z00.00", "R51.9", "S83.241A", "C50.911", "G43.909", "L70.0", "Z23"}

// payer is an insurer with its contract and behaviour.
type payer struct {
	name, kind, lob, amountType string
	share                       float64 // of encounters
	allowedRate                 float64 // allowed / charge
	lagDays, lagJitter          int     // days from claim to payment
	denial                      float64 // initial denial rate
	deductible, copay           float64
	coinsurance                 float64
}

var payers = []payer{
	{"Medicare", "Government", "Medicare", "Medicare", 0.30, 0.42, 14, 8, 0.06, 240, 0, 0.20},
	{"Medicaid", "Government", "Medicaid", "Insurance", 0.15, 0.35, 35, 20, 0.10, 0, 4, 0},
	{"BlueCross", "Private", "Commercial", "Insurance", 0.18, 0.68, 24, 12, 0.07, 500, 25, 0.20},
	{"Aetna", "Private", "Commercial", "Insurance", 0.12, 0.65, 30, 15, 0.09, 750, 30, 0.20},
	{"UnitedHealthcare", "Private", "Commercial", "Insurance", 0.12, 0.62, 38, 20, 0.12, 1000, 35, 0.25},
	{"Cigna", "Private", "Commercial", "Co-pay", 0.08, 0.66, 28, 14, 0.08, 600, 30, 0.20},
	{"Self-Pay", "Self-pay", "Self-Pay", "Self-pay", 0.05, 0.55, 75, 60, 0.0, 0, 0, 1.0},
}

var denialReasons = []string{"CO-16 missing information", "CO-97 bundled service", "CO-50 not medically necessary",
	"CO-197 no prior authorization", "CO-29 timely filing", "CO-18 duplicate claim"}

var encounterTypes = []string{"Outpatient", "Inpatient", "Emergency", "Telehealth"}
var visitTypes = []string{"Routine", "Follow-up", "Emergency", "New Patient"}
