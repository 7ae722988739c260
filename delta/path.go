package delta

import (
	"fmt"
	"strings"
)

// HiveDefaultPartition is the folder name Spark uses for a NULL partition value.
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// escapePathName escapes a partition column name or value for a folder name, as Spark's
// ExternalCatalogUtils.escapePathName does.
func escapePathName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("\"#%'*/:=?\\{[]^", r) {
			fmt.Fprintf(&b, "%%%02X", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// PartitionDir is the folder of one partition value: col=value, escaped, with NULL as
// __HIVE_DEFAULT_PARTITION__.
func PartitionDir(col string, value *string) string {
	if value == nil {
		return escapePathName(col) + "=" + HiveDefaultPartition
	}
	return escapePathName(col) + "=" + escapePathName(*value)
}

// EscapePathURI turns a relative file path into the URI form an add action carries: each
// segment percent-encoded where a URI needs it (so '%' from Hive escaping becomes '%25').
func EscapePathURI(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.~/=!$&'()*+,;:@", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
