package sqldb

import (
	"database/sql"
	"fmt"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, as "pgx"
	_ "modernc.org/sqlite"             // SQLite, the embedded default
)

// Dialect is what differs between the EMR databases' SQL. The bronze extraction and the CSV
// loader use it, so each database's quirks live here and nowhere else.
type Dialect interface {
	Name() string
	// QuoteIdent quotes a column or a (schema-qualified) table name.
	QuoteIdent(name string) string
	// Placeholder is the n-th (1-based) query parameter.
	Placeholder(n int) string
	// TypeName maps a portable type (TEXT, BIGINT, DOUBLE PRECISION, DATE) to the database's.
	TypeName(portable string) string
	// WatermarkExpr is the expression a watermark column is compared and stored through.
	WatermarkExpr(quotedCol string) string
}

func quoteParts(name, open, close string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = open + strings.ReplaceAll(p, close, close+close) + close
	}
	return strings.Join(parts, ".")
}

// SQLite keeps dates as text, so watermarks compare as text (ISO dates sort correctly).
type SQLite struct{}

func (SQLite) Name() string               { return "sqlite" }
func (SQLite) QuoteIdent(n string) string { return quoteParts(n, `"`, `"`) }
func (SQLite) Placeholder(int) string     { return "?" }
func (SQLite) TypeName(t string) string {
	return mapType(t, map[string]string{"DOUBLE PRECISION": "REAL", "BIGINT": "INTEGER"})
}
func (SQLite) WatermarkExpr(col string) string { return "CAST(" + col + " AS TEXT)" }

// Postgres is PostgreSQL through pgx.
type Postgres struct{}

func (Postgres) Name() string                    { return "postgres" }
func (Postgres) QuoteIdent(n string) string      { return quoteParts(n, `"`, `"`) }
func (Postgres) Placeholder(n int) string        { return fmt.Sprintf("$%d", n) }
func (Postgres) TypeName(t string) string        { return t }
func (Postgres) WatermarkExpr(col string) string { return col }

// SQLServer is SQL Server and Azure SQL (the seed's production EMRs).
type SQLServer struct{}

func (SQLServer) Name() string               { return "sqlserver" }
func (SQLServer) QuoteIdent(n string) string { return quoteParts(n, "[", "]") }
func (SQLServer) Placeholder(n int) string   { return fmt.Sprintf("@p%d", n) }
func (SQLServer) TypeName(t string) string {
	return mapType(t, map[string]string{"TEXT": "NVARCHAR(4000)", "DOUBLE PRECISION": "FLOAT"})
}
func (SQLServer) WatermarkExpr(col string) string { return col }

// mapType renames a portable type where a database spells it differently.
func mapType(t string, renames map[string]string) string {
	if v, ok := renames[t]; ok {
		return v
	}
	return t
}

// DialectFor returns the dialect of a driver name from the config.
func DialectFor(driver string) (Dialect, error) {
	switch driver {
	case "sqlite":
		return SQLite{}, nil
	case "postgres":
		return Postgres{}, nil
	case "sqlserver":
		return SQLServer{}, nil
	}
	return nil, fmt.Errorf("unknown EMR driver %q: want sqlite, postgres or sqlserver", driver)
}

// Open opens an EMR database. SQLite and PostgreSQL (pgx) are built in;
// SQL Server (go-mssqldb, registered as "sqlserver") is linked in too.
func Open(driver, dsn string) (*sql.DB, Dialect, error) {
	d, err := DialectFor(driver)
	if err != nil {
		return nil, nil, err
	}
	name := map[string]string{"sqlite": "sqlite", "postgres": "pgx", "sqlserver": "sqlserver"}[driver]
	db, err := sql.Open(name, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	if driver == "sqlite" {
		db.SetMaxOpenConns(1)
	}
	return db, d, nil
}
