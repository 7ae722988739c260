// Package synth generates a synthetic hospital network: one EMR database per hospital (with
// the seed project's per-hospital schemas), monthly claims files, a CPT code file, and a
// manifest of the defects it planted. Everything is a pure function of the seed, so two runs
// give identical sources, and appending a month gives what generating it at once would.
//
// Each entity's whole life (a patient's changes, a charge's claim, denial, appeal and
// payment) is derived from a random stream keyed by (seed, hospital, entity). Month m of the
// world is then what that life looks like at the end of month m.
package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Options describe a world.
type Options struct {
	Seed      uint64
	Hospitals int     // default 2
	Months    int     // months simulated, default 12
	Scale     float64 // 1 = the seed project's size: 5,000 patients and 10,000 charges a hospital a year
	Start     time.Time
	// EMRDSN puts the EMRs in a PostgreSQL database (one schema per hospital) instead of
	// SQLite files.
	EMRDSN string
}

func (o *Options) defaults() {
	if o.Hospitals <= 0 {
		o.Hospitals = 2
	}
	if o.Months <= 0 {
		o.Months = 12
	}
	if o.Scale <= 0 {
		o.Scale = 1
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
}

// rng returns the random stream of one entity.
func rng(seed uint64, parts ...any) *rand.Rand {
	h := mix(seed)
	for _, p := range parts {
		switch x := p.(type) {
		case int:
			h = mix(h ^ uint64(x))
		case string:
			f := fnv.New64a()
			f.Write([]byte(x))
			h = mix(h ^ f.Sum64())
		default:
			f := fnv.New64a()
			fmt.Fprint(f, x)
			h = mix(h ^ f.Sum64())
		}
	}
	return rand.New(rand.NewPCG(h, h^0x9e3779b97f4a7c15))
}

// mix is splitmix64's finaliser: a cheap, well-spread 64-bit hash step.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Hospital is one EMR of the network.
type Hospital struct {
	Index      int    `json:"index"`
	Code       string `json:"datasource"` // hos-a, hos-b, ...
	Name       string `json:"name"`       // trendytech-hospital-a
	Style      string `json:"style"`      // "a" (PatientID, FirstName, ..., ModifiedDate) or "b" (ID, F_Name, ..., Updated_Date)
	ProvPrefix string `json:"provider_prefix"`
	ClaimsFile string `json:"claims_file_prefix"` // hospital1_claims_
}

func hospital(i int) Hospital {
	letter := string(rune('a' + i%26))
	if i >= 26 {
		letter += fmt.Sprint(i / 26)
	}
	style := "a"
	if i%2 == 1 {
		style = "b"
	}
	return Hospital{Index: i, Code: "hos-" + letter, Name: "trendytech-hospital-" + letter, Style: style,
		ProvPrefix: fmt.Sprintf("H%d-", i+1), ClaimsFile: fmt.Sprintf("hospital%d_claims_", i+1)}
}

// sizes of one hospital's world.
type sizes struct {
	initialPatients, patientsPerMonth int
	chargesPerMonth                   int
	providers                         int
}

func sizeOf(o Options, h int) sizes {
	s := sizes{
		initialPatients:  max(20, int(math.Round(3000*o.Scale))),
		patientsPerMonth: max(2, int(math.Round(170*o.Scale))),
		chargesPerMonth:  max(10, int(math.Round(10000*o.Scale/12))),
		providers:        max(5, int(math.Round(25*math.Sqrt(o.Scale)))+5*h),
	}
	return s
}

// patientsBy is how many patients exist after month m (m = 0 is the first month).
func (s sizes) patientsBy(m int) int { return s.initialPatients + s.patientsPerMonth*m }

// monthStart is the first day of month m.
func (o Options) monthStart(m int) time.Time { return o.Start.AddDate(0, m, 0) }

// monthOf is the month index of a date.
func (o Options) monthOf(t time.Time) int {
	return (t.Year()-o.Start.Year())*12 + int(t.Month()) - int(o.Start.Month())
}

const dateFmt = "2006-01-02"

// ---- patients -------------------------------------------------------------------------

// patient is a patient's state at some month end.
type patient struct {
	id                               string
	first, last, middle              *string
	ssn, phone, gender, dob, address string
	modified                         time.Time
	deleted                          bool
	defect                           string // planted defect kind, "" for none
}

func sp(s string) *string { return &s }

func patientID(i int) string { return fmt.Sprintf("HOSP1-%06d", i+1) }

// patientDefect is the defect planted in patient i, if any.
func patientDefect(o Options, h Hospital, i int) string {
	switch rng(o.Seed, "patient-defect", h.Index, i).IntN(300) {
	case 0:
		return "literal_null"
	case 1:
		return "unparseable_date"
	case 2:
		return "null_key"
	}
	return ""
}

// billable patients can be referenced by charges: not deletable, and with a key.
func billable(o Options, h Hospital, i int) bool {
	return !deletable(i) && patientDefect(o, h, i) != "null_key"
}

// deletable patients are never billed, so deleting one leaves no charge without its patient;
// an orphan reference is only ever a planted defect.
func deletable(i int) bool { return i%50 == 7 }

// createdMonth is the month patient i first appears.
func (s sizes) createdMonth(i int) int {
	if i < s.initialPatients {
		return 0
	}
	return 1 + (i-s.initialPatients)/s.patientsPerMonth
}

// changesIn reports whether a patient who is neither new nor deletable may change in month m:
// patientAt's draws for month m (the day, then the event), without replaying the patient's life.
func changesIn(o Options, h Hospital, i, m int) bool {
	e := rng(o.Seed, "patient-month", h.Index, i, m)
	e.IntN(28)
	return e.IntN(1000) < 46
}

// patientAt replays patient i's life up to the end of month m.
func patientAt(o Options, h Hospital, s sizes, i, m int) patient {
	r := rng(o.Seed, "patient", h.Index, i)
	created := s.createdMonth(i)
	birth := time.Date(1935+r.IntN(85), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	c := cities[r.IntN(len(cities))]
	p := patient{
		id: patientID(i), first: sp(firstNames[r.IntN(len(firstNames))]), last: sp(lastNames[r.IntN(len(lastNames))]),
		ssn:    fmt.Sprintf("%03d-%02d-%04d", 100+r.IntN(800), 10+r.IntN(89), 1000+r.IntN(9000)),
		phone:  fmt.Sprintf("(%03d) %03d-%04d", 200+r.IntN(700), 200+r.IntN(700), r.IntN(10000)),
		gender: []string{"Female", "Male"}[r.IntN(2)], dob: ymd(birth),
		address:  fmt.Sprintf("%d %s, %s, %s %s", 1+r.IntN(9999), streets[r.IntN(len(streets))], c.city, c.state, c.zip),
		modified: o.monthStart(created).AddDate(0, 0, r.IntN(28)),
	}
	if r.IntN(3) > 0 {
		p.middle = sp(string(rune('A' + r.IntN(26))))
	}
	// Planted defects, about 1 in 100 patients; a defective row never changes afterwards.
	switch p.defect = patientDefect(o, h, i); p.defect {
	case "literal_null":
		p.first = sp("NULL")
	case "unparseable_date":
		p.dob = fmt.Sprintf("%d-13-%02d", birth.Year(), 1+r.IntN(28))
	}
	if p.defect != "" {
		return p
	}
	for month := created + 1; month <= m; month++ {
		e := rng(o.Seed, "patient-month", h.Index, i, month)
		day := o.monthStart(month).AddDate(0, 0, e.IntN(28))
		switch x := e.IntN(1000); { // changesIn must agree with these thresholds
		case x < 100 && deletable(i): // deleted from the EMR (only patients no charge refers to)
			p.deleted = true
			p.modified = day
			return p
		case x < 25: // moved
			c := cities[e.IntN(len(cities))]
			p.address = fmt.Sprintf("%d %s, %s, %s %s", 1+e.IntN(9999), streets[e.IntN(len(streets))], c.city, c.state, c.zip)
			p.modified = day
		case x < 32: // name change
			p.last = sp(lastNames[e.IntN(len(lastNames))])
			p.modified = day
		case x < 40: // middle name recorded or cleared: changes to and from NULL
			if p.middle == nil {
				p.middle = sp(string(rune('A' + e.IntN(26))))
			} else {
				p.middle = nil
			}
			p.modified = day
		case x < 46: // new phone
			p.phone = fmt.Sprintf("(%03d) %03d-%04d", 200+e.IntN(700), 200+e.IntN(700), e.IntN(10000))
			p.modified = day
		}
	}
	return p
}

// ---- providers ------------------------------------------------------------------------

type provider struct {
	id, first, last, spec, dept, npi string
}

func providerAt(o Options, h Hospital, i int) provider {
	r := rng(o.Seed, "provider", h.Index, i)
	d := r.IntN(len(departments))
	return provider{id: providerID(h, i), first: firstNames[r.IntN(len(firstNames))],
		last: lastNames[r.IntN(len(lastNames))], spec: specializations[d], dept: deptID(d), npi: NPI(r)}
}

// providerDept is provider i's department index: the first draw of its stream, which is all
// a charge needs of its provider.
func providerDept(o Options, h Hospital, i int) int {
	return rng(o.Seed, "provider", h.Index, i).IntN(len(departments))
}

func providerID(h Hospital, i int) string { return h.ProvPrefix + "PROV" + padded(i+1, 4) }

func deptID(d int) string { return "DEPT" + padded(d+1, 3) }

// ymd formats a date as YYYY-MM-DD, as time.Format(dateFmt) does, at a fraction of its cost.
func ymd(t time.Time) string {
	y, m, d := t.Date()
	var b [10]byte
	b[0], b[1], b[2], b[3] = byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[4], b[5], b[6] = '-', byte('0'+int(m)/10), byte('0'+int(m)%10)
	b[7], b[8], b[9] = '-', byte('0'+d/10), byte('0'+d%10)
	return string(b[:])
}

// NPI makes a valid 10-digit NPI: 9 digits and a Luhn check digit computed with the
// 80840 prefix, as CMS defines it.
func NPI(r *rand.Rand) string {
	body := fmt.Sprintf("%d%08d", 1+r.IntN(2), r.IntN(100000000))
	return body + fmt.Sprint(npiCheckDigit(body))
}

func npiCheckDigit(body string) int {
	sum := 24 // the 80840 prefix's contribution
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// ValidNPI checks an NPI's format and check digit.
func ValidNPI(npi string) bool {
	if len(npi) != 10 {
		return false
	}
	for _, c := range npi {
		if c < '0' || c > '9' {
			return false
		}
	}
	return npiCheckDigit(npi[:9]) == int(npi[9]-'0')
}
