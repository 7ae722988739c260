// Command rcmlake is the healthcare revenue-cycle lakehouse pipeline.
//
// This package only wires flags to calls. Each subcommand lives in its own file and adds
// itself to the root with register, so that commands can be added without touching the
// others.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/secrets/secretsconfig"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors in how the command was called, which exit with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globals are the persistent flags every command sees.
type globals struct {
	configPath string
	logFormat  string
	logLevel   string
	cpuProfile string
	memProfile string
}

var (
	gflags   globals
	builders []func() *cobra.Command
	// resolver expands ${secret:...} references for every command and remembers the values,
	// so that logs and error messages can be redacted.
	resolver = newResolver()
)

// newResolver asks the environment first, then mounted secret files, until a config is
// loaded: loadConfig then switches it to the config's providers (secrets.providers).
func newResolver() *secrets.Resolver {
	dir := os.Getenv("RCMLAKE_SECRETS_DIR")
	if dir == "" {
		dir = "/run/secrets"
	}
	return secrets.NewResolver(secrets.Env{}, secrets.Dir(dir))
}

// loadConfig reads and validates the config and switches the resolver to the secret providers
// it names (env, file, Azure Key Vault, HashiCorp Vault), keeping what it has redacted so far.
func loadConfig(ctx context.Context, path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := secretsconfig.Configure(ctx, resolver, cfg, secretsconfig.Options{}); err != nil {
		return nil, err
	}
	return cfg, nil
}

// register adds a subcommand builder; called from init functions of the command files.
func register(b func() *cobra.Command) { builders = append(builders, b) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "rcmlake",
		Short: "Healthcare revenue-cycle lakehouse: EMR, claims and reference data to bronze, silver, gold and KPIs",
		Long: `rcmlake turns a hospital network's EMR databases, claims files and reference data into a
Delta Lake medallion lakehouse (bronze Parquet, silver and gold Delta tables) and the KPIs a
revenue-cycle team needs: Days in A/R, A/R over 90 days, denial rate, collections.

Start with "rcmlake demo" to see the whole pipeline run on a generated hospital network.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := setupLogging(cmd.ErrOrStderr()); err != nil {
				return err
			}
			return prof.start()
		},
	}
	root.PersistentFlags().StringVarP(&gflags.configPath, "config", "c", "rcmlake.yaml", "pipeline config file")
	root.PersistentFlags().StringVar(&gflags.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&gflags.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&gflags.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of this command to the file")
	root.PersistentFlags().StringVar(&gflags.memProfile, "memprofile", "", "write a pprof heap profile (allocations and live objects) at the end of the command")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, b := range builders {
		root.AddCommand(b())
	}
	return root
}

func setupLogging(w io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(gflags.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", gflags.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch gflags.logFormat {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text", "auto":
		h = slog.NewTextHandler(w, opts)
	default:
		return usagef("--log-format %q: want text or json", gflags.logFormat)
	}
	slog.SetDefault(slog.New(secrets.RedactingHandler(h, resolver)))
	return nil
}

// isTerminal reports whether f is attached to a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the exit code; tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	prof.stop(stderr)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "Error:", resolver.Redact(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(stderr, "Run 'rcmlake --help' for usage.")
		return exitUsage
	}
	return exitFailure
}
