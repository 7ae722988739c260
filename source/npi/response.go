package npi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// APIError is the registry's own refusal: it answers HTTP 200 with a top-level "Errors" array
// (for example "No valid search criteria provided") instead of results.
type APIError struct {
	Errors []FieldError
}

// FieldError is one entry of the registry's Errors array.
type FieldError struct {
	Field       string `json:"field"`
	Number      string `json:"number"`
	Description string `json:"description"`
}

func (e *APIError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, f := range e.Errors {
		parts = append(parts, fmt.Sprintf("%s (field %s, code %s)", f.Description, f.Field, f.Number))
	}
	return "NPI registry refused the query: " + strings.Join(parts, "; ")
}

// flexString accepts a JSON string or number (the registry has sent NPIs and epochs as both)
// and keeps the digits exactly as sent.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n.String())
	return nil
}

type apiResponse struct {
	ResultCount *int              `json:"result_count"`
	Results     []json.RawMessage `json:"results"`
	Errors      []FieldError      `json:"Errors"`
}

type apiResult struct {
	Number           flexString `json:"number"`
	EnumerationType  string     `json:"enumeration_type"`
	LastUpdatedEpoch flexString `json:"last_updated_epoch"`
	CreatedEpoch     flexString `json:"created_epoch"`
	Basic            struct {
		FirstName             string `json:"first_name"`
		LastName              string `json:"last_name"`
		MiddleName            string `json:"middle_name"`
		NamePrefix            string `json:"name_prefix"`
		NameSuffix            string `json:"name_suffix"`
		Credential            string `json:"credential"`
		OrganizationName      string `json:"organization_name"`
		OrganizationalSubpart string `json:"organizational_subpart"`
		OfficialFirstName     string `json:"authorized_official_first_name"`
		OfficialLastName      string `json:"authorized_official_last_name"`
		OfficialMiddleName    string `json:"authorized_official_middle_name"`
		OfficialTitle         string `json:"authorized_official_title_or_position"`
		OfficialCredential    string `json:"authorized_official_credential"`
		OfficialTelephone     string `json:"authorized_official_telephone_number"`
		EnumerationDate       string `json:"enumeration_date"`
		LastUpdated           string `json:"last_updated"`
		DeactivationDate      string `json:"deactivation_date"`
		ReactivationDate      string `json:"reactivation_date"`
		Status                string `json:"status"`
	} `json:"basic"`
	Addresses  []apiAddress  `json:"addresses"`
	Taxonomies []apiTaxonomy `json:"taxonomies"`
}

type apiAddress struct {
	Purpose     string `json:"address_purpose"`
	Address1    string `json:"address_1"`
	Address2    string `json:"address_2"`
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postal_code"`
	CountryCode string `json:"country_code"`
	Telephone   string `json:"telephone_number"`
}

type apiTaxonomy struct {
	Code    string `json:"code"`
	Desc    string `json:"desc"`
	Primary bool   `json:"primary"`
	State   string `json:"state"`
	License string `json:"license"`
}

// Page is one parsed answer of the registry.
type Page struct {
	// ResultCount is what the registry says; it counts this page (not all matches) and recorded
	// answers show it can disagree with the results sent, so paging uses len(Providers).
	ResultCount int
	Providers   []Provider
}

// Parse reads one registry answer. An Errors array comes back as *APIError.
func Parse(data []byte) (Page, error) {
	var r apiResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return Page{}, fmt.Errorf("NPI registry answer is not the v2.1 JSON shape: %w", err)
	}
	if len(r.Errors) > 0 {
		return Page{}, &APIError{Errors: r.Errors}
	}
	if r.ResultCount == nil && r.Results == nil {
		return Page{}, fmt.Errorf("NPI registry answer has neither results nor Errors: %.200s", data)
	}
	p := Page{Providers: make([]Provider, 0, len(r.Results))}
	if r.ResultCount != nil {
		p.ResultCount = *r.ResultCount
	}
	for i, raw := range r.Results {
		pr, err := parseResult(raw)
		if err != nil {
			return Page{}, fmt.Errorf("NPI registry result %d: %w", i, err)
		}
		p.Providers = append(p.Providers, pr)
	}
	return p, nil
}

func parseResult(raw json.RawMessage) (Provider, error) {
	var r apiResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return Provider{}, err
	}
	if r.Number == "" {
		return Provider{}, fmt.Errorf("result without a number")
	}
	b := r.Basic
	p := Provider{
		NPI:                   string(r.Number),
		EnumerationType:       r.EnumerationType,
		Status:                b.Status,
		FirstName:             b.FirstName,
		LastName:              b.LastName,
		MiddleName:            b.MiddleName,
		NamePrefix:            b.NamePrefix,
		NameSuffix:            b.NameSuffix,
		Credential:            b.Credential,
		OrganizationName:      b.OrganizationName,
		OrganizationalSubpart: b.OrganizationalSubpart,
		OfficialFirstName:     b.OfficialFirstName,
		OfficialLastName:      b.OfficialLastName,
		OfficialMiddleName:    b.OfficialMiddleName,
		OfficialTitle:         b.OfficialTitle,
		OfficialCredential:    b.OfficialCredential,
		OfficialTelephone:     b.OfficialTelephone,
		Source:                FromAPI,
		Raw:                   string(bytes.TrimSpace(raw)),
	}
	var err error
	dates := []struct {
		name string
		in   string
		out  *time.Time
	}{
		{"enumeration_date", b.EnumerationDate, &p.EnumerationDate},
		{"last_updated", b.LastUpdated, &p.LastUpdated},
		{"deactivation_date", b.DeactivationDate, &p.DeactivationDate},
		{"reactivation_date", b.ReactivationDate, &p.ReactivationDate},
	}
	for _, d := range dates {
		if *d.out, err = parseDate(d.in, "2006-01-02"); err != nil {
			return Provider{}, fmt.Errorf("NPI %s %s: %w", p.NPI, d.name, err)
		}
	}
	if p.LastUpdated.IsZero() && r.LastUpdatedEpoch != "" {
		if sec, err := strconv.ParseInt(string(r.LastUpdatedEpoch), 10, 64); err == nil {
			p.LastUpdated = time.Unix(sec, 0).UTC().Truncate(24 * time.Hour)
		}
	}
	if t, ok := primaryTaxonomy(r.Taxonomies); ok {
		p.TaxonomyCode, p.TaxonomyDesc, p.TaxonomyState, p.TaxonomyLicense = t.Code, t.Desc, t.State, t.License
	}
	for _, a := range r.Addresses {
		if strings.EqualFold(a.Purpose, "LOCATION") {
			p.Address1, p.Address2, p.City, p.State = a.Address1, a.Address2, a.City, a.State
			p.PostalCode, p.CountryCode, p.Telephone = a.PostalCode, a.CountryCode, a.Telephone
			break
		}
	}
	return p, nil
}

func primaryTaxonomy(ts []apiTaxonomy) (apiTaxonomy, bool) {
	for _, t := range ts {
		if t.Primary {
			return t, true
		}
	}
	if len(ts) > 0 {
		return ts[0], true
	}
	return apiTaxonomy{}, false
}

// parseDate reads a date in layout; "" is the zero time.
func parseDate(s, layout string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want %s", s, layout)
	}
	return t, nil
}
