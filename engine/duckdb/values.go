package duckdb

import (
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"
)

// CellText renders a value for people: decimals exactly, dates without a time, NULL as NULL.
func CellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case duck.Decimal:
		return DecimalText(x)
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

// JSONValue turns a value into one encoding/json writes faithfully: decimals and big
// integers as exact numbers, times as text.
func JSONValue(v any) any {
	switch x := v.(type) {
	case duck.Decimal:
		return json.Number(DecimalText(x))
	case time.Time:
		return CellText(x)
	case *big.Int:
		return json.Number(x.String())
	}
	return v
}
