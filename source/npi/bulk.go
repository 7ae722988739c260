package npi

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The NPPES monthly dissemination file (npidata_pfile_YYYYMMDD-YYYYMMDD.csv) is the bulk
// alternative to the API: every NPI in one ~10 GB CSV of 330 columns. ReadBulk streams it row by
// row with a reused record, so memory stays flat whatever the file size.
//
// Columns are found by header name (case and spacing ignored), not position: CMS has renamed
// and appended columns over the years (Provider Gender Code became Provider Sex Code; the V2
// file has longer names), and only NPI and Entity Type Code are required.

// Header names of the columns ReadBulk uses, as in the NPPES readme's data file layout.
const (
	colNPI              = "NPI"
	colEntityType       = "Entity Type Code"
	colOrgName          = "Provider Organization Name (Legal Business Name)"
	colLastName         = "Provider Last Name (Legal Name)"
	colFirstName        = "Provider First Name"
	colMiddleName       = "Provider Middle Name"
	colPrefix           = "Provider Name Prefix Text"
	colSuffix           = "Provider Name Suffix Text"
	colCredential       = "Provider Credential Text"
	colAddr1            = "Provider First Line Business Practice Location Address"
	colAddr2            = "Provider Second Line Business Practice Location Address"
	colCity             = "Provider Business Practice Location Address City Name"
	colState            = "Provider Business Practice Location Address State Name"
	colPostal           = "Provider Business Practice Location Address Postal Code"
	colCountry          = "Provider Business Practice Location Address Country Code (If outside U.S.)"
	colPhone            = "Provider Business Practice Location Address Telephone Number"
	colEnumerationDate  = "Provider Enumeration Date"
	colLastUpdate       = "Last Update Date"
	colDeactivationDate = "NPI Deactivation Date"
	colReactivationDate = "NPI Reactivation Date"
	colOffLast          = "Authorized Official Last Name"
	colOffFirst         = "Authorized Official First Name"
	colOffMiddle        = "Authorized Official Middle Name"
	colOffTitle         = "Authorized Official Title or Position"
	colOffPhone         = "Authorized Official Telephone Number"
	colOffCredential    = "Authorized Official Credential Text"
	colSubpart          = "Is Organization Subpart"
	taxonomySlots       = 15
)

// BulkOptions tune ReadBulk.
type BulkOptions struct {
	// Reject receives a row that cannot be read (wrong field count, bad date, bad NPI) with its
	// line number and the reason. Returning nil skips the row and goes on; a nil Reject makes
	// the first bad row an error.
	Reject func(line int, reason string) error
}

// BulkStats counts what ReadBulk did.
type BulkStats struct {
	Rows     int // providers emitted
	Rejected int // rows passed to Reject
}

// ReadBulk streams the NPPES dissemination CSV from r and calls emit for each provider row.
// name is the file name, for error messages.
func ReadBulk(ctx context.Context, name string, r io.Reader, o BulkOptions, emit func(Provider) error) (BulkStats, error) {
	var st BulkStats
	br := bufio.NewReaderSize(r, 1<<20)
	if bom, _ := br.Peek(3); string(bom) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return st, fmt.Errorf("NPPES file %s: reading the header: %w", name, err)
	}
	idx, err := bulkIndex(header)
	if err != nil {
		return st, fmt.Errorf("NPPES file %s: %w", name, err)
	}
	width := len(header)
	for {
		if st.Rows%4096 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return st, nil
		}
		var line int
		var reason string
		var p Provider
		if err == nil {
			line, _ = cr.FieldPos(0)
		}
		switch {
		case err != nil:
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return st, fmt.Errorf("NPPES file %s: %w", name, err)
			}
			line, reason = pe.StartLine, pe.Err.Error()
		case len(rec) != width:
			reason = fmt.Sprintf("%d fields, the header has %d", len(rec), width)
		default:
			p, err = idx.provider(rec)
			if err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			if o.Reject == nil {
				return st, fmt.Errorf("NPPES file %s line %d: %s", name, line, reason)
			}
			st.Rejected++
			if err := o.Reject(line, reason); err != nil {
				return st, err
			}
			continue
		}
		if err := emit(p); err != nil {
			return st, err
		}
		st.Rows++
	}
}

// bulkColumns maps the used columns to their positions; -1 when the file lacks one.
type bulkColumns struct {
	pos     map[string]int
	taxCode [taxonomySlots]int
	taxLic  [taxonomySlots]int
	taxSt   [taxonomySlots]int
	taxPri  [taxonomySlots]int
}

func normHeader(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func bulkIndex(header []string) (*bulkColumns, error) {
	at := make(map[string]int, len(header))
	for i, h := range header {
		if _, dup := at[normHeader(h)]; !dup {
			at[normHeader(h)] = i
		}
	}
	find := func(name string) int {
		if i, ok := at[normHeader(name)]; ok {
			return i
		}
		return -1
	}
	b := &bulkColumns{pos: map[string]int{}}
	for _, c := range []string{colNPI, colEntityType, colOrgName, colLastName, colFirstName, colMiddleName, colPrefix,
		colSuffix, colCredential, colAddr1, colAddr2, colCity, colState, colPostal, colCountry, colPhone,
		colEnumerationDate, colLastUpdate, colDeactivationDate, colReactivationDate, colOffLast, colOffFirst,
		colOffMiddle, colOffTitle, colOffPhone, colOffCredential, colSubpart} {
		b.pos[c] = find(c)
	}
	for _, req := range []string{colNPI, colEntityType} {
		if b.pos[req] < 0 {
			return nil, fmt.Errorf("no %q column in the header: is this an npidata_pfile CSV?", req)
		}
	}
	for n := 1; n <= taxonomySlots; n++ {
		b.taxCode[n-1] = find(fmt.Sprintf("Healthcare Provider Taxonomy Code_%d", n))
		b.taxLic[n-1] = find(fmt.Sprintf("Provider License Number_%d", n))
		b.taxSt[n-1] = find(fmt.Sprintf("Provider License Number State Code_%d", n))
		b.taxPri[n-1] = find(fmt.Sprintf("Healthcare Provider Primary Taxonomy Switch_%d", n))
	}
	return b, nil
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (b *bulkColumns) provider(rec []string) (Provider, error) {
	f := func(c string) string { return field(rec, b.pos[c]) }
	p := Provider{
		NPI: f(colNPI), FirstName: f(colFirstName), LastName: f(colLastName), MiddleName: f(colMiddleName),
		NamePrefix: f(colPrefix), NameSuffix: f(colSuffix), Credential: f(colCredential),
		OrganizationName: f(colOrgName), OfficialFirstName: f(colOffFirst), OfficialLastName: f(colOffLast),
		OfficialMiddleName: f(colOffMiddle), OfficialTitle: f(colOffTitle), OfficialCredential: f(colOffCredential),
		OfficialTelephone: f(colOffPhone), Address1: f(colAddr1), Address2: f(colAddr2), City: f(colCity),
		State: f(colState), PostalCode: f(colPostal), CountryCode: f(colCountry), Telephone: f(colPhone),
		Source: FromBulk,
	}
	if err := Validate(p.NPI); err != nil {
		return Provider{}, err
	}
	switch code := f(colEntityType); code {
	case "1":
		p.EnumerationType = Individual
	case "2":
		p.EnumerationType = Organization
	case "": // deactivated NPIs keep only the number and the deactivation date
	default:
		return Provider{}, fmt.Errorf("NPI %s: Entity Type Code %q, want 1 or 2", p.NPI, code)
	}
	switch s := f(colSubpart); s {
	case "Y":
		p.OrganizationalSubpart = "YES"
	case "N":
		p.OrganizationalSubpart = "NO"
	}
	var err error
	for _, d := range []struct {
		col string
		out *time.Time
	}{{colEnumerationDate, &p.EnumerationDate}, {colLastUpdate, &p.LastUpdated},
		{colDeactivationDate, &p.DeactivationDate}, {colReactivationDate, &p.ReactivationDate}} {
		if *d.out, err = parseDate(f(d.col), "01/02/2006"); err != nil {
			return Provider{}, fmt.Errorf("NPI %s %s: %w", p.NPI, d.col, err)
		}
	}
	p.Status = "A"
	if !p.DeactivationDate.IsZero() && p.ReactivationDate.Before(p.DeactivationDate) {
		p.Status = "D"
	}
	first := -1
	for n := 0; n < taxonomySlots; n++ {
		code := field(rec, b.taxCode[n])
		if code == "" {
			continue
		}
		if first < 0 {
			first = n
		}
		if field(rec, b.taxPri[n]) == "Y" {
			first = n
			break
		}
	}
	if first >= 0 {
		p.TaxonomyCode = field(rec, b.taxCode[first])
		p.TaxonomyLicense = field(rec, b.taxLic[first])
		p.TaxonomyState = field(rec, b.taxSt[first])
	}
	return p, nil
}

// BulkHeader is the header ReadBulk understands best: the columns it reads, in the order of
// the NPPES layout (a subset: real files have 330 columns, matched by name). WriteBulk uses it.
func BulkHeader() []string {
	h := []string{colNPI, colEntityType, colOrgName, colLastName, colFirstName, colMiddleName, colPrefix,
		colSuffix, colCredential, colAddr1, colAddr2, colCity, colState, colPostal, colCountry, colPhone,
		colEnumerationDate, colLastUpdate, colDeactivationDate, colReactivationDate, colOffLast, colOffFirst,
		colOffMiddle, colOffTitle, colOffPhone}
	for n := 1; n <= taxonomySlots; n++ {
		s := strconv.Itoa(n)
		h = append(h, "Healthcare Provider Taxonomy Code_"+s, "Provider License Number_"+s,
			"Provider License Number State Code_"+s, "Healthcare Provider Primary Taxonomy Switch_"+s)
	}
	return append(h, colSubpart, colOffCredential)
}

// WriteBulk writes providers as an NPPES-style dissemination CSV (every value quoted, dates
// MM/DD/YYYY) with BulkHeader's columns: offline fixtures for the bulk path.
func WriteBulk(w io.Writer, providers []Provider) error {
	bw := bufio.NewWriter(w)
	header := BulkHeader()
	writeRow := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('"')
			bw.WriteString(strings.ReplaceAll(v, `"`, `'`)) // as CMS does
			bw.WriteByte('"')
		}
		bw.WriteString("\r\n")
	}
	writeRow(header)
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("01/02/2006")
	}
	for _, p := range providers {
		if err := Validate(p.NPI); err != nil {
			return fmt.Errorf("npi bulk fixture: provider %q: %w", p.Name(), err)
		}
		et := ""
		switch p.EnumerationType {
		case Individual:
			et = "1"
		case Organization:
			et = "2"
		}
		row := []string{p.NPI, et, p.OrganizationName, p.LastName, p.FirstName, p.MiddleName, p.NamePrefix,
			p.NameSuffix, p.Credential, p.Address1, p.Address2, p.City, p.State, p.PostalCode, p.CountryCode,
			p.Telephone, date(p.EnumerationDate), date(p.LastUpdated), date(p.DeactivationDate),
			date(p.ReactivationDate), p.OfficialLastName, p.OfficialFirstName, p.OfficialMiddleName,
			p.OfficialTitle, p.OfficialTelephone}
		for n := 0; n < taxonomySlots; n++ {
			if n == 0 && p.TaxonomyCode != "" {
				row = append(row, p.TaxonomyCode, p.TaxonomyLicense, p.TaxonomyState, "Y")
			} else {
				row = append(row, "", "", "", "")
			}
		}
		sub := ""
		switch p.OrganizationalSubpart {
		case "YES":
			sub = "Y"
		case "NO":
			sub = "N"
		}
		writeRow(append(row, sub, p.OfficialCredential))
	}
	return bw.Flush()
}

// OpenBulk opens an NPPES dissemination file: the CSV itself, or the monthly ZIP as CMS ships
// it, read in place (the data file inside, npidata_pfile_*.csv, not its _fileheader twin). The
// returned name is the CSV's, for messages.
func OpenBulk(path string) (io.ReadCloser, string, error) {
	if !strings.EqualFold(filepath.Ext(path), ".zip") {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("NPPES file: %w", err)
		}
		return f, filepath.Base(path), nil
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, "", fmt.Errorf("NPPES archive %s: %w", filepath.Base(path), err)
	}
	var pick *zip.File
	for _, f := range z.File {
		base := strings.ToLower(filepath.Base(f.Name))
		if strings.HasPrefix(base, "npidata_pfile") && strings.HasSuffix(base, ".csv") && !strings.Contains(base, "fileheader") {
			pick = f
			break
		}
	}
	if pick == nil {
		z.Close()
		return nil, "", fmt.Errorf("NPPES archive %s holds no npidata_pfile_*.csv", filepath.Base(path))
	}
	r, err := pick.Open()
	if err != nil {
		z.Close()
		return nil, "", fmt.Errorf("NPPES archive %s: %w", filepath.Base(path), err)
	}
	return zipEntry{r, z}, filepath.Base(pick.Name), nil
}

// zipEntry closes the entry and then its archive.
type zipEntry struct {
	io.ReadCloser
	z *zip.ReadCloser
}

func (e zipEntry) Close() error {
	err := e.ReadCloser.Close()
	if zerr := e.z.Close(); err == nil {
		err = zerr
	}
	return err
}
