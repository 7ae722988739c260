package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/secrets/secretsconfig"
	"github.com/rcmlake/rcmlake/source/sqldb"
)

func init() { register(newDoctorCmd) }

// finding is one check's outcome.
type finding struct {
	level  string // ok, warn, fail
	check  string
	detail string
	fix    string
}

func newDoctorCmd() *cobra.Command {
	var minFreeGB float64
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the config, secrets, sources, storage and disk, and say what to fix",
		Long: `Checks, in order: that the config validates; that every secret reference resolves (values are
never printed); that each active EMR database answers and has its tables and watermark
columns; that the landing folder is readable; that the lake accepts a write, a read and a
delete; that the engine starts and the models plan; and that the lake, cache and spill
folders have free disk. Exits 1 when any check fails.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var fs []finding
			add := func(level, check, detail, fix string) { fs = append(fs, finding{level, check, detail, fix}) }
			defer func() { printFindings(cmd.OutOrStdout(), fs) }()

			cfg, err := config.Load(gflags.configPath)
			if err != nil {
				add("fail", "config", resolver.Redact(err.Error()), "fix the lines named above; rcmlake validate lists them")
				return doctorResult(fs)
			}
			add("ok", "config", fmt.Sprintf("%s: %d EMR databases, %d silver entities", cfg.File(), len(cfg.Sources.EMR), len(cfg.Silver.Entities)), "")
			if err := secretsconfig.Configure(ctx, resolver, cfg, secretsconfig.Options{}); err != nil {
				add("fail", "secret providers", resolver.Redact(err.Error()), "fix secrets: in the config, or provide the address and credentials the error names")
				return doctorResult(fs)
			}
			add("ok", "secret providers", strings.Join(resolver.ProviderNames(), ", "), "")

			// Secrets: every reference in the config must resolve.
			secretsOK := true
			for _, ref := range configRefs(cfg) {
				if _, err := resolver.Resolve(ctx, ref.value); err != nil {
					secretsOK = false
					add("fail", "secret "+ref.where, resolver.Redact(err.Error()), "provide it through one of the providers the error names (secrets.providers in the config)")
				}
			}
			if secretsOK {
				add("ok", "secrets", "every reference resolves", "")
			}

			for _, db := range cfg.Sources.EMR {
				fs = append(fs, checkEMR(ctx, cfg, db)...)
			}
			if l := cfg.Sources.Landing; l != nil {
				root := cfg.ResolvePath(l.Root)
				if strings.Contains(root, "://") {
					add("ok", "landing", root+" (remote; read at ingest)", "")
				} else if entries, err := os.ReadDir(root); err != nil {
					add("warn", "landing", err.Error(), "create the landing folder, or fix sources.landing.root")
				} else {
					add("ok", "landing", fmt.Sprintf("%s: %d entries", root, len(entries)), "")
				}
			}

			lh, err := lakehouse.Open(ctx, cfg, resolver)
			if err != nil {
				add("fail", "lake", resolver.Redact(err.Error()), "check lake.root and lake.credentials")
				return doctorResult(fs)
			}
			defer lh.Close()
			if err := probeStorage(ctx, lh.Store); err != nil {
				add("fail", "lake", resolver.Redact(err.Error()), "check the lake's permissions: rcmlake needs to write, read, list and delete")
			} else {
				add("ok", "lake", lh.Store.URL()+": write, read and delete work", "")
			}
			if _, err := lh.Engine.Query(ctx, "SELECT 1"); err != nil {
				add("fail", "engine", err.Error(), "check engine.memory_limit, engine.threads and engine.temp_dir")
			} else if plan, err := (&gold.Builder{Lake: lh, Models: models.Embedded()}).Plan(); err != nil {
				add("fail", "models", err.Error(), "fix the model named above")
			} else {
				add("ok", "engine", fmt.Sprintf("duckdb answers; %d gold models plan", len(plan)), "")
			}

			dirs := map[string]string{}
			if lp, ok := lh.Store.(lake.LocalPather); ok {
				dirs["lake"] = lp.LocalPath("")
			}
			if cfg.Engine.TempDir != "" {
				dirs["engine spill"] = cfg.ResolvePath(cfg.Engine.TempDir)
			}
			if cfg.Lake.CacheDir != "" {
				dirs["cache"] = cfg.ResolvePath(cfg.Lake.CacheDir)
			}
			for name, dir := range dirs {
				free, err := freeBytes(dir)
				switch {
				case err != nil:
					add("warn", "disk "+name, err.Error(), "")
				case float64(free) < minFreeGB*(1<<30):
					add("warn", "disk "+name, fmt.Sprintf("%s: %.1f GB free", dir, float64(free)/(1<<30)), fmt.Sprintf("free space: under %.0f GB, large loads and DuckDB spills may fail", minFreeGB))
				default:
					add("ok", "disk "+name, fmt.Sprintf("%s: %.1f GB free", dir, float64(free)/(1<<30)), "")
				}
			}
			return doctorResult(fs)
		},
	}
	cmd.Flags().Float64Var(&minFreeGB, "min-free-gb", 5, "warn when a folder has less free disk than this")
	return cmd
}

type configRef struct{ where, value string }

// configRefs lists the config values that may hold secret references.
func configRefs(cfg *config.Config) []configRef {
	var out []configRef
	addIf := func(where, v string) {
		if strings.Contains(v, "${") {
			out = append(out, configRef{where, v})
		}
	}
	for _, db := range cfg.Sources.EMR {
		addIf(db.Datasource+" dsn", db.DSN)
	}
	for k, v := range cfg.Lake.Credentials {
		addIf("lake "+k, v)
	}
	for name, api := range map[string]*config.API{"npi": cfg.Sources.APIs.NPI, "icd": cfg.Sources.APIs.ICD} {
		if api != nil {
			addIf(name+" client_id", api.ClientID)
			addIf(name+" client_secret", api.ClientSecret)
		}
	}
	return out
}

func checkEMR(ctx context.Context, cfg *config.Config, db config.Database) []finding {
	name := "emr " + db.Datasource
	dsn, err := resolver.Resolve(ctx, db.DSN)
	if err != nil {
		return nil // reported with the secrets
	}
	if db.Driver == "sqlite" {
		dsn = cfg.ResolvePath(dsn)
		if _, err := os.Stat(dsn); err != nil {
			return []finding{{"fail", name, resolver.Redact(err.Error()), "fix the dsn: the SQLite file must exist (rcmlake emr load or generate creates one)"}}
		}
	}
	conn, d, err := sqldb.Open(db.Driver, dsn)
	if err != nil {
		return []finding{{"fail", name, resolver.Redact(err.Error()), "check driver and dsn"}}
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.PingContext(pctx); err != nil {
		return []finding{{"fail", name, resolver.Redact(err.Error()), "check that the server is up and reachable from here, and the credentials"}}
	}
	var out []finding
	missing := 0
	for _, t := range db.Tables {
		if !t.IsActive() {
			continue
		}
		tbl := t.Name
		if db.Schema != "" && !strings.Contains(tbl, ".") {
			tbl = db.Schema + "." + tbl
		}
		cols := "*"
		if t.Watermark != "" {
			cols = d.QuoteIdent(t.Watermark)
		}
		rows, err := conn.QueryContext(pctx, "SELECT "+cols+" FROM "+d.QuoteIdent(tbl)+" WHERE 1 = 0")
		if err != nil {
			missing++
			out = append(out, finding{"fail", name + " " + t.Name, resolver.Redact(err.Error()), "fix the table name or its watermark column in the config, or set active: false"})
			continue
		}
		rows.Close()
	}
	if missing == 0 {
		out = append(out, finding{"ok", name, fmt.Sprintf("%s answers; its active tables and watermark columns exist", db.Driver), ""})
	}
	return out
}

// probeStorage writes, reads and deletes a small object.
func probeStorage(ctx context.Context, s lake.Storage) error {
	var b [6]byte
	rand.Read(b[:])
	key := "_doctor/probe-" + hex.EncodeToString(b[:])
	want := []byte("rcmlake doctor " + time.Now().UTC().Format(time.RFC3339))
	if err := s.PutIfAbsent(ctx, key, want); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	got, err := lake.ReadAll(ctx, s, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read %s: the content differs from what was written", key)
	}
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func freeBytes(dir string) (uint64, error) {
	for d := dir; ; d = filepath.Dir(d) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err == nil {
			return st.Bavail * uint64(st.Bsize), nil
		}
		if d == filepath.Dir(d) {
			return 0, fmt.Errorf("%s: cannot read free space", dir)
		}
	}
}

func printFindings(w io.Writer, fs []finding) {
	for _, f := range fs {
		mark := map[string]string{"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[f.level]
		fmt.Fprintf(w, "%s  %-28s %s\n", mark, f.check, f.detail)
		if f.fix != "" && f.level != "ok" {
			fmt.Fprintf(w, "      %-28s -> %s\n", "", f.fix)
		}
	}
}

func doctorResult(fs []finding) error {
	n := 0
	for _, f := range fs {
		if f.level == "fail" {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d check(s) failed; fix them as suggested above", n)
	}
	return nil
}
