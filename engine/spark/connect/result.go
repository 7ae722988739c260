package connect

import (
	"bytes"
	"fmt"
	"math/big"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// Result is a query's rows in Go values: int64/int32/int16/int8, float64/float32, bool,
// string, []byte, time.Time (dates at UTC midnight, timestamps in UTC), Decimal; nil for NULL.
type Result struct {
	Columns []string
	Types   []string // Spark SQL type names
	Rows    [][]any
}

// Decimal is an exact decimal: Unscaled × 10^-Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// String renders the decimal with its scale ("-0.10").
func (d Decimal) String() string {
	neg := d.Unscaled.Sign() < 0
	digits := new(big.Int).Abs(d.Unscaled).String()
	scale := int(d.Scale)
	for len(digits) <= scale {
		digits = "0" + digits
	}
	s := digits
	if scale > 0 {
		s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Float is the decimal's nearest float64.
func (d Decimal) Float() float64 {
	f, _ := new(big.Rat).SetFrac(d.Unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)).Float64()
	return f
}

func decodeResult(resp *Response) (*Result, error) {
	res := &Result{}
	if resp.Schema != nil {
		res.Columns, res.Types = structFields(resp.Schema)
	}
	for _, b := range resp.Batches {
		rd, err := ipc.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("spark connect: reading an Arrow batch: %w", err)
		}
		if res.Columns == nil {
			for _, f := range rd.Schema().Fields() {
				res.Columns = append(res.Columns, f.Name)
				res.Types = append(res.Types, f.Type.String())
			}
		}
		for rd.Next() {
			rec := rd.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				row := make([]any, rec.NumCols())
				for j := range row {
					v, err := value(rec.Column(j), i)
					if err != nil {
						rd.Release()
						return nil, fmt.Errorf("spark connect: column %s: %w", rec.ColumnName(j), err)
					}
					row[j] = v
				}
				res.Rows = append(res.Rows, row)
			}
		}
		err = rd.Err()
		rd.Release()
		if err != nil {
			return nil, fmt.Errorf("spark connect: reading an Arrow batch: %w", err)
		}
	}
	return res, nil
}

// value converts one Arrow cell.
func value(col arrow.Array, i int) (any, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i), nil
	case *array.Int32:
		return a.Value(i), nil
	case *array.Int16:
		return a.Value(i), nil
	case *array.Int8:
		return a.Value(i), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Float32:
		return a.Value(i), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return append([]byte(nil), a.Value(i)...), nil
	case *array.Date32:
		return time.Unix(int64(a.Value(i))*86400, 0).UTC(), nil
	case *array.Date64:
		return time.UnixMilli(int64(a.Value(i))).UTC(), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC(), nil
	case *array.Decimal128:
		dt := a.DataType().(*arrow.Decimal128Type)
		return Decimal{Unscaled: decimal128.Num(a.Value(i)).BigInt(), Scale: dt.Scale}, nil
	case *array.Null:
		return nil, nil
	}
	return nil, fmt.Errorf("arrow type %s is not supported here", col.DataType())
}
