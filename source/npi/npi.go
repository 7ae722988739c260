// Package npi reads the NPPES NPI Registry: the public API v2.1 (lookup by number, search with
// paging) and the monthly bulk dissemination CSV, both into the same Provider record.
//
// NPIs are strings everywhere: they are identifiers, not numbers, and the API has sent them both
// as JSON numbers (older answers) and as strings.
package npi

import (
	"errors"
	"fmt"
	"time"

	"github.com/rcmlake/rcmlake/source/record"
)

// Enumeration types.
const (
	Individual   = "NPI-1"
	Organization = "NPI-2"
)

// Where a Provider came from.
const (
	FromAPI  = "api"
	FromBulk = "bulk"
)

// Provider is one NPI record as bronze keeps it: who the provider is, their primary taxonomy and
// the practice location address.
type Provider struct {
	NPI             string
	EnumerationType string // NPI-1 (individual) or NPI-2 (organisation)
	Status          string // A active, D deactivated (bulk: derived from the deactivation date)

	// Individuals.
	FirstName  string
	LastName   string
	MiddleName string
	NamePrefix string
	NameSuffix string
	Credential string

	// Organisations and their authorized official.
	OrganizationName      string
	OfficialFirstName     string
	OfficialLastName      string
	OfficialMiddleName    string
	OfficialTitle         string
	OfficialCredential    string
	OfficialTelephone     string
	OrganizationalSubpart string // YES / NO

	// Primary taxonomy (the one flagged primary, else the first).
	TaxonomyCode    string
	TaxonomyDesc    string // empty in bulk rows: the file carries codes only
	TaxonomyState   string
	TaxonomyLicense string

	// Practice location address.
	Address1    string
	Address2    string
	City        string
	State       string
	PostalCode  string
	CountryCode string
	Telephone   string

	EnumerationDate  time.Time
	LastUpdated      time.Time
	DeactivationDate time.Time
	ReactivationDate time.Time

	Source string // api or bulk
	Raw    string // the API's JSON for this result, as it came; empty for bulk rows
}

var columns = []record.Column{
	{Name: "npi", Type: record.Varchar},
	{Name: "enumeration_type", Type: record.Varchar},
	{Name: "status", Type: record.Varchar},
	{Name: "first_name", Type: record.Varchar},
	{Name: "last_name", Type: record.Varchar},
	{Name: "middle_name", Type: record.Varchar},
	{Name: "name_prefix", Type: record.Varchar},
	{Name: "name_suffix", Type: record.Varchar},
	{Name: "credential", Type: record.Varchar},
	{Name: "organization_name", Type: record.Varchar},
	{Name: "official_first_name", Type: record.Varchar},
	{Name: "official_last_name", Type: record.Varchar},
	{Name: "official_middle_name", Type: record.Varchar},
	{Name: "official_title", Type: record.Varchar},
	{Name: "official_credential", Type: record.Varchar},
	{Name: "official_telephone", Type: record.Varchar},
	{Name: "organizational_subpart", Type: record.Varchar},
	{Name: "taxonomy_code", Type: record.Varchar},
	{Name: "taxonomy_desc", Type: record.Varchar},
	{Name: "taxonomy_state", Type: record.Varchar},
	{Name: "taxonomy_license", Type: record.Varchar},
	{Name: "address_1", Type: record.Varchar},
	{Name: "address_2", Type: record.Varchar},
	{Name: "city", Type: record.Varchar},
	{Name: "state", Type: record.Varchar},
	{Name: "postal_code", Type: record.Varchar},
	{Name: "country_code", Type: record.Varchar},
	{Name: "telephone", Type: record.Varchar},
	{Name: "enumeration_date", Type: record.Date},
	{Name: "last_updated", Type: record.Date},
	{Name: "deactivation_date", Type: record.Date},
	{Name: "reactivation_date", Type: record.Date},
	{Name: "source", Type: record.Varchar},
	{Name: "raw_json", Type: record.Varchar},
}

// Columns is the flat view's column list; it never changes between values.
func (Provider) Columns() []record.Column { return append([]record.Column(nil), columns...) }

// Values lines up with Columns; empty strings and zero dates are NULL.
func (p Provider) Values() []any {
	s := record.StringOrNil
	d := record.DateOrNil
	return []any{
		p.NPI, s(p.EnumerationType), s(p.Status),
		s(p.FirstName), s(p.LastName), s(p.MiddleName), s(p.NamePrefix), s(p.NameSuffix), s(p.Credential),
		s(p.OrganizationName), s(p.OfficialFirstName), s(p.OfficialLastName), s(p.OfficialMiddleName),
		s(p.OfficialTitle), s(p.OfficialCredential), s(p.OfficialTelephone), s(p.OrganizationalSubpart),
		s(p.TaxonomyCode), s(p.TaxonomyDesc), s(p.TaxonomyState), s(p.TaxonomyLicense),
		s(p.Address1), s(p.Address2), s(p.City), s(p.State), s(p.PostalCode), s(p.CountryCode), s(p.Telephone),
		d(p.EnumerationDate), d(p.LastUpdated), d(p.DeactivationDate), d(p.ReactivationDate),
		s(p.Source), s(p.Raw),
	}
}

// Name is a display name: the organisation's, or "LAST, FIRST" for an individual.
func (p Provider) Name() string {
	if p.OrganizationName != "" {
		return p.OrganizationName
	}
	if p.FirstName == "" {
		return p.LastName
	}
	return p.LastName + ", " + p.FirstName
}

// ErrInvalidNPI is returned (wrapped) for a string that cannot be an NPI.
var ErrInvalidNPI = errors.New("invalid NPI")

// Validate checks that s is 10 digits whose last digit is the Luhn check digit computed over the
// card-issuer prefix 80840 and the first nine digits, as CMS defines it. It catches typos before
// an API call is spent on them.
func Validate(s string) error {
	if len(s) != 10 {
		return fmt.Errorf("%w %q: want 10 digits, got %d characters", ErrInvalidNPI, s, len(s))
	}
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%w %q: character %d is not a digit", ErrInvalidNPI, s, i+1)
		}
	}
	if want := CheckDigit(s[:9]); s[9] != want {
		return fmt.Errorf("%w %q: check digit is %c, want %c", ErrInvalidNPI, s, s[9], want)
	}
	return nil
}

// CheckDigit computes the NPI check digit for nine digits (the Luhn digit of "80840"+first9).
// The synthetic world uses it to make valid NPIs. It panics if first9 is not nine digits.
func CheckDigit(first9 string) byte {
	if len(first9) != 9 {
		panic("npi.CheckDigit: want 9 digits")
	}
	// The prefix 80840 contributes a constant 24 when doubled in Luhn position (CMS's "add 24").
	sum := 24
	for i := 0; i < 9; i++ {
		c := first9[i]
		if c < '0' || c > '9' {
			panic("npi.CheckDigit: want 9 digits")
		}
		v := int(c - '0')
		if i%2 == 0 { // positions that get doubled, counting from the check digit
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}
