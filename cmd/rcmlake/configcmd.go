package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/config"
)

func init() {
	register(newConfigCmd)
	register(newValidateCmd)
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the pipeline config (rcmlake.yaml)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("config needs a subcommand; see rcmlake config --help")
		},
	}
	var opts config.SeedImport
	var out string
	imp := &cobra.Command{
		Use:   "import-seed load_config.csv",
		Short: "Turn the seed project's load_config.csv into an rcmlake.yaml",
		Long: `Reads the seed project's metadata table (database, datasource, tablename, loadtype,
watermark, is_active, targetpath) and writes the equivalent rcmlake.yaml. DSNs are not in the
seed file; by default each becomes a secret reference ${secret:<database>-dsn}, or use
--dsn-template, e.g. --driver sqlite --dsn-template 'emr/{database}.sqlite'.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			cfg, err := config.ImportSeed(args[0], f, opts)
			if err != nil {
				return err
			}
			data, err := config.Marshal(cfg)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d databases); check it with: rcmlake validate -c %s\n", out, len(cfg.Sources.EMR), out)
			return nil
		},
	}
	imp.Flags().StringVar(&opts.Driver, "driver", "sqlserver", "EMR database driver: sqlserver, postgres or sqlite")
	imp.Flags().StringVar(&opts.DSNTemplate, "dsn-template", "", "DSN per database; {database} is replaced (default ${secret:{database}-dsn})")
	imp.Flags().StringVar(&opts.LakeRoot, "lake", "lake", "lake root to write into the config")
	imp.Flags().StringVarP(&out, "output", "o", "-", "where to write the config (- for stdout)")
	cmd.AddCommand(imp)
	return cmd
}

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [config]",
		Short: "Check a config and report every problem with its file and line",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := gflags.configPath
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := config.Load(path)
			var probs config.Problems
			if errors.As(err, &probs) {
				for _, p := range probs {
					fmt.Fprintln(cmd.OutOrStdout(), p.String())
				}
				return fmt.Errorf("%s: %d problem(s)", path, len(probs))
			}
			if err != nil {
				return err
			}
			tables := 0
			for _, db := range cfg.Sources.EMR {
				tables += len(db.Tables)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: %d EMR databases, %d tables, %d silver entities\n",
				path, len(cfg.Sources.EMR), tables, len(cfg.Silver.Entities))
			return nil
		},
	}
}
