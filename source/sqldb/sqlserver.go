package sqldb

// SQL Server and Azure SQL, through Microsoft's driver. It registers itself as "sqlserver",
// the name Open uses; its DSN is sqlserver://user:password@host:1433?database=emr (keep it in
// a secret). Azure AD authentication would need the driver's azuread package instead.
import _ "github.com/microsoft/go-mssqldb"
