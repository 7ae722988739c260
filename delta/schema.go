package delta

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
)

// DataType is a Delta type: a primitive name ("long", "decimal(18,2)") or a nested
// struct, array or map.
type DataType struct {
	Primitive string      // set for primitive types
	Struct    *StructType // set for struct types
	Array     *ArrayType
	Map       *MapType
}

// StructField is one column.
type StructField struct {
	Name     string          `json:"name"`
	Type     DataType        `json:"type"`
	Nullable bool            `json:"nullable"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// StructType is a schema or a struct column.
type StructType struct {
	Fields []StructField
}

// ArrayType is an array column.
type ArrayType struct {
	ElementType  DataType `json:"elementType"`
	ContainsNull bool     `json:"containsNull"`
}

// MapType is a map column.
type MapType struct {
	KeyType           DataType `json:"keyType"`
	ValueType         DataType `json:"valueType"`
	ValueContainsNull bool     `json:"valueContainsNull"`
}

// ParseSchema reads a schemaString.
func ParseSchema(s string) (*StructType, error) {
	var dt DataType
	if err := json.Unmarshal([]byte(s), &dt); err != nil {
		return nil, fmt.Errorf("delta schema: %w", err)
	}
	if dt.Struct == nil {
		return nil, fmt.Errorf("delta schema: the top level is not a struct")
	}
	return dt.Struct, nil
}

// String renders the schema as a schemaString.
func (s *StructType) String() string {
	b, _ := json.Marshal(DataType{Struct: s})
	return string(b)
}

// Field finds a column by name.
func (s *StructType) Field(name string) (StructField, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return StructField{}, false
}

var decimalRe = regexp.MustCompile(`^decimal\((\d+),\s*(\d+)\)$`)

// Decimal returns the precision and scale of a decimal type.
func (t DataType) Decimal() (precision, scale int, ok bool) {
	m := decimalRe.FindStringSubmatch(t.Primitive)
	if m == nil {
		return 0, 0, false
	}
	p, _ := strconv.Atoi(m[1])
	s, _ := strconv.Atoi(m[2])
	return p, s, true
}

// String is the type as Delta writes it for primitives, or a short form for nested types.
func (t DataType) String() string {
	switch {
	case t.Struct != nil:
		return "struct"
	case t.Array != nil:
		return "array<" + t.Array.ElementType.String() + ">"
	case t.Map != nil:
		return "map<" + t.Map.KeyType.String() + "," + t.Map.ValueType.String() + ">"
	}
	return t.Primitive
}

// UnmarshalJSON reads either a type name or a nested type object.
func (t *DataType) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		t.Primitive = name
		return nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	switch head.Type {
	case "struct":
		var st struct {
			Fields []StructField `json:"fields"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return err
		}
		t.Struct = &StructType{Fields: st.Fields}
	case "array":
		var a ArrayType
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		t.Array = &a
	case "map":
		var m MapType
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		t.Map = &m
	default:
		return fmt.Errorf("unknown delta type %q", head.Type)
	}
	return nil
}

// MarshalJSON writes the type as the protocol does.
func (t DataType) MarshalJSON() ([]byte, error) {
	switch {
	case t.Struct != nil:
		fields := t.Struct.Fields
		if fields == nil {
			fields = []StructField{}
		}
		for i := range fields {
			if len(fields[i].Metadata) == 0 {
				fields[i].Metadata = json.RawMessage(`{}`)
			}
		}
		return json.Marshal(struct {
			Type   string        `json:"type"`
			Fields []StructField `json:"fields"`
		}{"struct", fields})
	case t.Array != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			ArrayType
		}{"array", *t.Array})
	case t.Map != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			MapType
		}{"map", *t.Map})
	}
	return json.Marshal(t.Primitive)
}
