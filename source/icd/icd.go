// Package icd reads ICD diagnosis codes from three sources into one Code record:
//
//   - the WHO ICD-API (ICD-10, and ICD-11 MMS linearizations, which share the entity shape),
//     walked recursively from a root entity with an OAuth2 client-credentials token;
//   - the NLM Clinical Tables ICD-10-CM search API (no credentials), for look-ups by term;
//   - the CMS/NCHS ICD-10-CM order file (fixed width), the bulk and offline source of the
//     billable US codes.
package icd

import (
	"strings"

	"github.com/rcmlake/rcmlake/source/record"
)

// Code systems.
const (
	ICD10   = "ICD-10"     // WHO ICD-10
	ICD11   = "ICD-11-MMS" // WHO ICD-11 for mortality and morbidity statistics
	ICD10CM = "ICD-10-CM"  // the US clinical modification (NLM, CMS)
)

// Sources.
const (
	FromWHO = "who"
	FromNLM = "nlm"
	FromCMS = "cms"
)

// Code is one classification entry: a billable code, or a header/category/block/chapter above it.
type Code struct {
	System     string // ICD-10, ICD-11-MMS or ICD-10-CM
	Code       string // dotted as published: A00.0, E11.65; ranges for blocks (A00-A09); roman numerals for ICD-10 chapters
	Title      string // WHO title, NLM name, CMS long description
	ShortTitle string // CMS short description (60 characters); empty elsewhere
	// Billable: CMS flag 1 (valid for HIPAA-covered transactions) or 0 (header). WHO: an entity
	// without children (the most specific code). NLM does not say: nil.
	Billable *bool
	Kind     string // WHO classKind (chapter, block, category, modifiedcategory); CMS header or billable
	Parent   string // the parent's code (WHO: first parent; CMS: the nearest header that prefixes it)
	Order    int64  // CMS order number; 0 elsewhere
	URI      string // WHO entity @id
	Release  string // WHO release (2019, 2024-01); CMS fiscal year when the caller knows it
	Source   string // who, nlm or cms
}

var columns = []record.Column{
	{Name: "system", Type: record.Varchar},
	{Name: "code", Type: record.Varchar},
	{Name: "code_nodot", Type: record.Varchar},
	{Name: "title", Type: record.Varchar},
	{Name: "short_title", Type: record.Varchar},
	{Name: "billable", Type: record.Boolean},
	{Name: "kind", Type: record.Varchar},
	{Name: "parent_code", Type: record.Varchar},
	{Name: "order_no", Type: record.Bigint},
	{Name: "uri", Type: record.Varchar},
	{Name: "release", Type: record.Varchar},
	{Name: "source", Type: record.Varchar},
}

// Columns is the flat view's column list; it never changes between values.
func (Code) Columns() []record.Column { return append([]record.Column(nil), columns...) }

// Values lines up with Columns; empty strings, unknown billable flags and order 0 are NULL.
func (c Code) Values() []any {
	s := record.StringOrNil
	var billable, order any
	if c.Billable != nil {
		billable = *c.Billable
	}
	if c.Order != 0 {
		order = c.Order
	}
	return []any{s(c.System), c.Code, s(NoDot(c.Code)), s(c.Title), s(c.ShortTitle), billable, s(c.Kind),
		s(c.Parent), order, s(c.URI), s(c.Release), s(c.Source)}
}

// NoDot is the code without its dot (A00.0 -> A000), the form of claims files and the order file.
func NoDot(code string) string { return strings.ReplaceAll(code, ".", "") }

// Dotted puts the dot of an ICD-10(-CM) code back after its three-character category
// (A000 -> A00.0). Codes of three characters or fewer, ranges and codes that already have a
// dot are returned as they are.
func Dotted(code string) string {
	code = strings.TrimSpace(code)
	if len(code) <= 3 || strings.ContainsAny(code, ".-") {
		return code
	}
	return code[:3] + "." + code[3:]
}

func boolPtr(b bool) *bool { return &b }
