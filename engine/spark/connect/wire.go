package connect

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the Spark Connect messages this client writes or reads (spark.connect
// package, Spark 4.0). Only these are encoded; unknown response fields are skipped.
const (
	// ExecutePlanRequest, ConfigRequest, ReleaseSessionRequest share these.
	reqSessionID   = 1
	reqUserContext = 2
	execPlan       = 3
	execClientType = 4
	execOpID       = 6
	confOperation  = 3
	confClientType = 4
	relClientType  = 3

	userID   = 1
	userName = 2

	planRoot    = 1 // Plan.root: Relation
	planCommand = 2 // Plan.command: Command

	relRead    = 2  // Relation.read
	relProject = 3  // Relation.project
	relSQL     = 10 // Relation.sql
	sqlText    = 1  // SQL.query

	projectInput = 1 // Project.input: Relation
	projectExprs = 3 // Project.expressions: Expression
	exprString   = 4 // Expression.expression_string: ExpressionString
	exprText     = 1 // ExpressionString.expression

	readDataSource = 2 // Read.data_source
	dsFormat       = 1
	dsSchema       = 2
	dsOptions      = 3 // map<string,string>
	dsPaths        = 4

	cmdCreateView = 3 // Command.create_dataframe_view
	cmdSQL        = 5 // Command.sql_command
	sqlCmdInput   = 6 // SqlCommand.input: Relation
	viewInput     = 1 // CreateDataFrameViewCommand
	viewName      = 2
	viewGlobal    = 3
	viewReplace   = 4

	opSet     = 1 // ConfigRequest.Operation.set
	opGet     = 2
	opUnset   = 6
	setPairs  = 1 // ConfigRequest.Set.pairs
	getKeys   = 1 // ConfigRequest.Get.keys / Unset.keys
	kvKey     = 1 // KeyValue
	kvValue   = 2
	confPairs = 2 // ConfigResponse.pairs

	// ExecutePlanResponse.
	respSessionID      = 1
	respArrowBatch     = 2
	respSQLResult      = 5
	respSchema         = 7
	respOperationID    = 12
	respResultComplete = 14
	respServerSession  = 15
	batchRowCount      = 1
	batchData          = 2
)

// msg builds one protobuf message.
type msg []byte

func (m msg) str(num protowire.Number, s string) msg {
	if s == "" {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m msg) sub(num protowire.Number, sub msg) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, sub)
}

func (m msg) boolean(num protowire.Number, b bool) msg {
	if !b {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, 1)
}

// field is one decoded field of a message: its number and, for length-delimited fields,
// the bytes; for varints, the value.
type field struct {
	num   protowire.Number
	typ   protowire.Type
	bytes []byte
	v     uint64
}

// fields splits a message into its fields.
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("spark connect: malformed response: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, fmt.Errorf("spark connect: malformed response: %w", protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out, nil
}

// sqlRelation is Relation{sql: SQL{query}}.
func sqlRelation(query string) msg {
	return msg(nil).sub(relSQL, msg(nil).str(sqlText, query))
}

// parquetRelation is Relation{read: Read{data_source: {format: parquet, paths, options}}}.
func parquetRelation(paths []string, schema string, options map[string]string) msg {
	ds := msg(nil).str(dsFormat, "parquet").str(dsSchema, schema)
	for k, v := range options {
		ds = ds.sub(dsOptions, msg(nil).str(kvKey, k).str(kvValue, v))
	}
	for _, p := range paths {
		ds = protowire.AppendTag(ds, dsPaths, protowire.BytesType)
		ds = protowire.AppendString(ds, p)
	}
	return msg(nil).sub(relRead, msg(nil).sub(readDataSource, ds))
}

// projectRelation is Relation{project: Project{input, expressions}}, each expression given
// as SQL text, as DataFrame.selectExpr sends it. Unlike a SQL query over a view, it can
// name the file source's hidden _metadata column.
func projectRelation(input msg, exprs []string) msg {
	p := msg(nil).sub(projectInput, input)
	for _, e := range exprs {
		p = p.sub(projectExprs, msg(nil).sub(exprString, msg(nil).str(exprText, e)))
	}
	return msg(nil).sub(relProject, p)
}

// dataType renders a spark.connect.DataType as Spark SQL type text (the kinds rcmlake
// uses; others by their field number).
func dataType(b []byte) string {
	fs, err := fields(b)
	if err != nil || len(fs) == 0 {
		return "unknown"
	}
	f := fs[0]
	switch f.num {
	case 1:
		return "void"
	case 2:
		return "binary"
	case 3:
		return "boolean"
	case 4:
		return "tinyint"
	case 5:
		return "smallint"
	case 6:
		return "int"
	case 7:
		return "bigint"
	case 8:
		return "float"
	case 9:
		return "double"
	case 10:
		var scale, prec uint64 = 0, 10
		if sub, err := fields(f.bytes); err == nil {
			for _, s := range sub {
				switch s.num {
				case 1:
					scale = s.v
				case 2:
					prec = s.v
				}
			}
		}
		return fmt.Sprintf("decimal(%d,%d)", prec, scale)
	case 11, 12, 13:
		return "string"
	case 14:
		return "date"
	case 15:
		return "timestamp"
	case 16:
		return "timestamp_ntz"
	case 20:
		return "array"
	case 21:
		return "struct"
	case 22:
		return "map"
	}
	return fmt.Sprintf("type#%d", f.num)
}

// structFields lists (name, type) of a struct DataType: a result's schema.
func structFields(b []byte) (names, types []string) {
	fs, err := fields(b)
	if err != nil {
		return nil, nil
	}
	for _, f := range fs {
		if f.num != 21 {
			continue
		}
		sfs, _ := fields(f.bytes)
		for _, sf := range sfs {
			if sf.num != 1 { // Struct.fields
				continue
			}
			parts, _ := fields(sf.bytes)
			var name, typ string
			for _, p := range parts {
				switch p.num {
				case 1:
					name = string(p.bytes)
				case 2:
					typ = dataType(p.bytes)
				}
			}
			names, types = append(names, name), append(types, typ)
		}
	}
	return names, types
}
