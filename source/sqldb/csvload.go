// Package sqldb is where rcmlake talks to EMR databases through database/sql: opening them
// by driver, their SQL dialects, and loading CSV files into them (rcmlake emr load).
package sqldb

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Mapping is one entry of the seed project's Lookup_file_table_mapping.json: a CSV file and
// the EMR table it loads into.
type Mapping struct {
	Container    string `json:"Container"`
	FilePath     string `json:"FilePath"`
	FileName     string `json:"FileName"`
	DatabaseName string `json:"DatabaseName"`
	TableName    string `json:"TableName"`
}

// ReadMappings reads a mapping file.
func ReadMappings(path string) ([]Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ms []Mapping
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, m := range ms {
		if m.FileName == "" || m.DatabaseName == "" || m.TableName == "" {
			return nil, fmt.Errorf("%s: entry %d needs FileName, DatabaseName and TableName", path, i+1)
		}
	}
	return ms, nil
}

// Locate finds a mapping's CSV under root: at its FilePath, else in a folder named after the
// database (the seed's own layout, emr/<database>/<file>).
func (m Mapping) Locate(root string) (string, error) {
	candidates := []string{
		filepath.Join(root, m.FilePath),
		filepath.Join(root, m.DatabaseName, m.FileName),
		filepath.Join(root, "emr", m.DatabaseName, m.FileName),
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s for %s.%s: not found; looked at %s", m.FileName, m.DatabaseName, m.TableName, strings.Join(candidates, ", "))
}

// LoadResult reports one file's load.
type LoadResult struct {
	File, Database, Table string
	Rows                  int64
	Columns               []Column
}

// Column is a loaded column and the type inferred for it.
type Column struct {
	Name, Type string
}

var (
	intRe   = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	floatRe = regexp.MustCompile(`^-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?$`)
	dateRe  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// inferType picks a column type from its values. Identifiers and codes stay text whatever
// they look like (a procedure code 00790 must keep its zeros); integers are 64-bit, so NPIs
// never overflow as the seed's int32 cast did.
func inferType(name string, values []string) string {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, "id") || strings.HasSuffix(lower, "code") || strings.HasSuffix(lower, "codes") || lower == "npi" || lower == "ssn" {
		return "TEXT"
	}
	isInt, isFloat, isDate, any := true, true, true, false
	for _, v := range values {
		if v == "" {
			continue
		}
		any = true
		if !intRe.MatchString(v) {
			isInt = false
		} else if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			isInt = false
		}
		if !floatRe.MatchString(v) && !intRe.MatchString(v) {
			isFloat = false
		}
		if !dateRe.MatchString(v) {
			isDate = false
		}
	}
	switch {
	case !any:
		return "TEXT"
	case isInt:
		return "BIGINT"
	case isFloat:
		return "DOUBLE PRECISION"
	case isDate:
		return "DATE"
	}
	return "TEXT"
}

// LoadCSV loads one CSV file into a table, replacing it: the header names the columns, types
// are inferred from the values, and the rows inserted must equal the rows read.
func LoadCSV(ctx context.Context, db *sql.DB, d Dialect, path, table string) (*LoadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) != len(header) {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s line %d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		rows = append(rows, rec)
	}
	res := &LoadResult{File: path, Table: table}
	cols := make([]string, len(header))
	for i, h := range header {
		vals := make([]string, len(rows))
		for j, row := range rows {
			vals[j] = row[i]
		}
		typ := inferType(h, vals)
		res.Columns = append(res.Columns, Column{Name: h, Type: typ})
		cols[i] = d.QuoteIdent(h) + " " + d.TypeName(typ)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.QuoteIdent(table)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE "+d.QuoteIdent(table)+" ("+strings.Join(cols, ", ")+")"); err != nil {
		return nil, err
	}
	ph := make([]string, len(header))
	for i := range ph {
		ph[i] = d.Placeholder(i + 1)
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+d.QuoteIdent(table)+" VALUES ("+strings.Join(ph, ", ")+")")
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	args := make([]any, len(header))
	for _, row := range rows {
		for i, v := range row {
			args[i] = typed(v, res.Columns[i].Type)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		res.Rows++
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+d.QuoteIdent(table)).Scan(&n); err != nil {
		return nil, err
	}
	if n != int64(len(rows)) {
		return nil, fmt.Errorf("%s: read %d rows but the table holds %d", path, len(rows), n)
	}
	return res, tx.Commit()
}

func typed(v, typ string) any {
	if v == "" && typ != "TEXT" {
		return nil
	}
	switch typ {
	case "BIGINT":
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	case "DOUBLE PRECISION":
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return v
}
