package access

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The SQL endpoint's guard. A query from a person runs only if DuckDB's own parser, asked
// through json_serialize_sql, shows a single SELECT that reads nothing but the views prepared
// for this very request (each already granted and masked) and the query's own CTEs. So a
// join, a subquery or a CTE is fine, but a table function (read_parquet, read_csv, glob,
// query, duckdb_views ...), a file path used as a table, a schema-qualified name that was not
// prepared, an ATTACHed catalog or a non-SELECT statement is refused before anything runs.

// deniedFunctions leak engine state or settings; table functions are refused wholesale.
var deniedFunctions = map[string]bool{
	"getvariable": true, "current_setting": true, "getenv": true, "pg_get_viewdef": true,
	"json_execute_serialized_sql": true, "query": true, "query_table": true, "sniff_csv": true,
	"which_secret": true, "current_query": true,
}

var deniedPrefixes = []string{"read_", "parquet_", "duckdb_", "pragma_", "glob", "iceberg_", "delta_"}

// tableRefTypes are the FROM-clause and query-node types a guarded query may use (table refs
// and query nodes are the tree's objects with a "sample" field).
var tableRefTypes = map[string]bool{
	"SELECT_NODE": true, "SET_OPERATION_NODE": true, "RECURSIVE_CTE_NODE": true, "CTE_NODE": true,
	"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "EMPTY": true, "EXPRESSION_LIST": true,
}

// GuardError says why a query was refused.
type GuardError struct{ Reason string }

func (e *GuardError) Error() string { return "query refused: " + e.Reason }

// CheckParsed checks the output of json_serialize_sql(query) against the views the query may
// read, given as lower-case "schema.name".
func CheckParsed(parsed []byte, views map[string]bool) error {
	var doc struct {
		Error        bool              `json:"error"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal(parsed, &doc); err != nil {
		return &GuardError{"the query could not be parsed"}
	}
	if doc.Error {
		if strings.Contains(doc.ErrorMessage, "Only SELECT") {
			return &GuardError{"only SELECT queries can run here"}
		}
		return &GuardError{doc.ErrorMessage}
	}
	if len(doc.Statements) != 1 {
		return &GuardError{fmt.Sprintf("give exactly one SELECT statement, not %d", len(doc.Statements))}
	}
	var tree any
	if err := json.Unmarshal(doc.Statements[0], &tree); err != nil {
		return &GuardError{"the query could not be parsed"}
	}
	ctes := map[string]bool{}
	collectCTEs(tree, ctes)
	return walk(tree, views, ctes)
}

func collectCTEs(n any, ctes map[string]bool) {
	switch v := n.(type) {
	case map[string]any:
		if m, ok := v["cte_map"].(map[string]any); ok {
			if entries, ok := m["map"].([]any); ok {
				for _, e := range entries {
					if em, ok := e.(map[string]any); ok {
						if k, ok := em["key"].(string); ok {
							ctes[strings.ToLower(k)] = true
						}
					}
				}
			}
		}
		for _, c := range v {
			collectCTEs(c, ctes)
		}
	case []any:
		for _, c := range v {
			collectCTEs(c, ctes)
		}
	}
}

func walk(n any, views, ctes map[string]bool) error {
	switch v := n.(type) {
	case map[string]any:
		if err := checkNode(v, views, ctes); err != nil {
			return err
		}
		for _, c := range v {
			if err := walk(c, views, ctes); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := walk(c, views, ctes); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkNode(v map[string]any, views, ctes map[string]bool) error {
	typ, _ := v["type"].(string)
	if typ == "" {
		return nil
	}
	if _, isExpr := v["class"]; isExpr {
		if typ == "FUNCTION" {
			name := strings.ToLower(fmt.Sprint(v["function_name"]))
			if deniedFunctions[name] || hasDeniedPrefix(name) {
				return &GuardError{fmt.Sprintf("function %s() is not allowed here", name)}
			}
		}
		return nil
	}
	if typ == "TABLE_FUNCTION" {
		return &GuardError{"table functions such as read_parquet() are not allowed; name tables as layer.table, e.g. gold.fact_claim"}
	}
	if _, isRef := v["sample"]; !isRef {
		return nil // an ORDER BY term, a modifier or another non-table part of the tree
	}
	if !tableRefTypes[typ] {
		return &GuardError{fmt.Sprintf("%s is not allowed here", strings.ToLower(strings.ReplaceAll(typ, "_", " ")))}
	}
	if at, ok := v["at_clause"]; ok && at != nil {
		return &GuardError{"AT clauses are not allowed; pin versions as gold.x@v3"}
	}
	if typ != "BASE_TABLE" {
		return nil
	}
	catalogName, _ := v["catalog_name"].(string)
	schema, _ := v["schema_name"].(string)
	table, _ := v["table_name"].(string)
	if catalogName == "" && schema == "" && ctes[strings.ToLower(table)] {
		return nil
	}
	if catalogName == "" && views[strings.ToLower(schema+"."+table)] {
		return nil
	}
	return &GuardError{fmt.Sprintf("%q is not a table of the catalog; name tables as layer.table, e.g. gold.fact_claim", strings.Trim(catalogName+"."+schema+"."+table, "."))}
}

func hasDeniedPrefix(name string) bool {
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
