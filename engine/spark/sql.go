package spark

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/models"
)

// Ident quotes a Spark SQL identifier.
func Ident(s string) string { return models.Spark{}.Ident(s) }

// Literal quotes a Spark SQL string literal (backslashes escaped too).
func Literal(s string) string { return models.Spark{}.Literal(s) }

var decimalRe = regexp.MustCompile(`^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)

// sparkType is the Spark SQL DDL type of a Delta type.
func sparkType(t delta.DataType) (string, error) {
	if t.Array != nil {
		et, err := sparkType(t.Array.ElementType)
		if err != nil {
			return "", err
		}
		return "ARRAY<" + et + ">", nil
	}
	if t.Struct != nil || t.Map != nil {
		return "", fmt.Errorf("type %s is not read by the Spark engine yet", t)
	}
	if m := decimalRe.FindStringSubmatch(t.Primitive); m != nil {
		return "DECIMAL(" + m[1] + "," + m[2] + ")", nil
	}
	switch t.Primitive {
	case "string":
		return "STRING", nil
	case "long":
		return "BIGINT", nil
	case "integer":
		return "INT", nil
	case "short":
		return "SMALLINT", nil
	case "byte":
		return "TINYINT", nil
	case "double":
		return "DOUBLE", nil
	case "float":
		return "FLOAT", nil
	case "boolean":
		return "BOOLEAN", nil
	case "binary":
		return "BINARY", nil
	case "date":
		return "DATE", nil
	case "timestamp":
		return "TIMESTAMP", nil
	case "timestamp_ntz":
		return "TIMESTAMP_NTZ", nil
	}
	return "", fmt.Errorf("type %s has no Spark equivalent here", t)
}

// removeEmptyDirs removes dir and its subfolders when they are empty (a local staging folder
// after its files moved or were deleted).
func removeEmptyDirs(dir string) {
	var dirs []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, harmlessly, on a folder that is not empty
	}
}
