package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

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
				cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cellText(v))
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
					cells[i] = cellText(v)
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
				obj[res.Columns[i]] = jsonValue(v)
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	return usagef("--format %q: want table, csv or jsonl", format)
}

// cellText renders a value for people: decimals exactly, dates without a time, NULL as NULL.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case duck.Decimal:
		return duckdb.DecimalText(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("0x%x", x)
	}
	return fmt.Sprint(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case duck.Decimal:
		return json.Number(duckdb.DecimalText(x))
	case time.Time:
		return cellText(x)
	case *big.Int:
		return json.Number(x.String())
	}
	return v
}
