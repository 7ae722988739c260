package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/source/sqldb"
)

func init() { register(newEMRCmd) }

func newEMRCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emr",
		Short: "Work with EMR databases (load CSV files into them)",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return usagef("emr needs a subcommand; see rcmlake emr --help") },
	}
	var mapping, root, out string
	load := &cobra.Command{
		Use:   "load --mapping Lookup_file_table_mapping.json --root DIR --out DIR",
		Short: "Load CSV files into EMR databases, as the seed's ADF pipeline did",
		Long: `Reads a mapping file in the seed's Lookup_file_table_mapping.json format (FilePath, FileName,
DatabaseName, TableName) and loads each CSV into a table of its database: one SQLite file per
database in --out. Files are found at FilePath under --root, or in a folder named after the
database (the seed-data layout emr/<database>/<file>). Column types are inferred; identifiers,
codes and NPIs stay text. Each table is replaced, so a rerun does not duplicate rows.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mapping == "" || root == "" || out == "" {
				return usagef("--mapping, --root and --out are required")
			}
			maps, err := sqldb.ReadMappings(mapping)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DATABASE\tTABLE\tROWS\tFILE")
			for _, m := range maps {
				path, err := m.Locate(root)
				if err != nil {
					return err
				}
				db, d, err := sqldb.Open("sqlite", filepath.Join(out, m.DatabaseName+".sqlite"))
				if err != nil {
					return err
				}
				res, err := sqldb.LoadCSV(cmd.Context(), db, d, path, m.TableName)
				db.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.DatabaseName, m.TableName, res.Rows, path)
			}
			return tw.Flush()
		},
	}
	load.Flags().StringVar(&mapping, "mapping", "", "mapping file (the seed's Lookup_file_table_mapping.json format)")
	load.Flags().StringVar(&root, "root", "", "folder the mapping's file paths are relative to")
	load.Flags().StringVar(&out, "out", "", "folder for the SQLite databases, one per DatabaseName")
	cmd.AddCommand(load)
	return cmd
}
