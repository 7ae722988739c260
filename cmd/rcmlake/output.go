package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// printResult writes a query result as an aligned table, CSV or JSON lines.
func printResult(w io.Writer, res *engine.Result, format string) error {
	switch format {
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(duckdb.CellText(v))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(res.Columns)
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				if v != nil {
					cells[i] = duckdb.CellText(v)
				}
			}
			cw.Write(cells)
		}
		cw.Flush()
		return cw.Error()
	case "jsonl", "json":
		enc := json.NewEncoder(w)
		for _, row := range res.Rows {
			obj := make(map[string]any, len(row))
			for i, v := range row {
				obj[res.Columns[i]] = duckdb.JSONValue(v)
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	return usagef("--format %q: want table, csv or jsonl", format)
}
