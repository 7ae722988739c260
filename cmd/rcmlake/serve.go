package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"os/user"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/serve"
)

func init() {
	register(newServeCmd)
	register(newGrantsCmd)
	register(newTokensCmd)
}

// governedReader opens the governance of a lake: its policy (config plus stored grants), its
// mask key and the access audit.
func governedReader(ctx context.Context, cfg *config.Config, lh *lakehouse.Lakehouse) (*access.Reader, error) {
	stored, err := access.LoadGrants(ctx, lh.Store)
	if err != nil {
		return nil, err
	}
	policy, err := access.NewPolicy(cfg, stored)
	if err != nil {
		return nil, err
	}
	masker, err := access.LoadMasker(ctx, cfg, resolver, lh.Store)
	if err != nil {
		return nil, err
	}
	return access.NewReader(ctx, lh, policy, masker, &access.AuditLog{Lake: lh})
}

func newServeCmd() *cobra.Command {
	var listen, cert, key, anon string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the KPI dashboard, data quality, runs, catalog and a JSON/SQL API, under role-based access",
		Long: `Serves the reporting team's dashboard and its JSON API (/api/kpi, /api/tables, /api/runs,
/api/quality, /api/sql ...). Callers authenticate with an API token (rcmlake tokens create) as
"Authorization: Bearer rcm_...", or in a browser by signing in with one; with serve.oidc set,
bearer JWTs from the identity provider are accepted too. Each role reads only the tables it is
granted (rcmlake grants), and PHI columns are masked for roles without the PHI permission, in
pages, API answers, SQL results and CSV exports alike. Every read is written to
audit.access_log.`,
		Example: `  rcmlake tokens create --name dana --role analyst
  rcmlake serve --listen 127.0.0.1:8080
  curl -H "Authorization: Bearer rcm_..." http://127.0.0.1:8080/api/kpi?hospital=hos-a`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			if listen == "" {
				listen = cfg.Serve.Listen
			}
			if listen == "" {
				listen = "127.0.0.1:8080"
			}
			if cert == "" {
				cert, key = cfg.ResolvePath(cfg.Serve.TLSCert), cfg.ResolvePath(cfg.Serve.TLSKey)
			}
			if (cert == "") != (key == "") {
				return usagef("give both --tls-cert and --tls-key, or neither")
			}
			if anon != "" && !loopback(listen) {
				return usagef("--anonymous-role is for a single-user laptop: listen on 127.0.0.1 or ::1 to use it")
			}
			reader, err := governedReader(ctx, cfg, lh)
			if err != nil {
				return err
			}
			if cfg.Serve.MaxRows > 0 {
				reader.MaxRows = cfg.Serve.MaxRows
			}
			if anon != "" {
				if _, ok := reader.Policy.Role(anon); !ok {
					return usagef("--anonymous-role %q: no such role in %s", anon, cfg.File())
				}
			}
			lakeMetrics.Use(lh)
			defer lakeMetrics.Use(nil)
			srv := &serve.Server{Reader: reader, AnonymousRole: anon, Log: slog.Default(), Metrics: promhttp.Handler()}
			if cfg.Serve.QueryTimeout != "" {
				srv.QueryTimeout, _ = time.ParseDuration(cfg.Serve.QueryTimeout)
			}
			if o := cfg.Serve.OIDC; o != nil {
				if srv.OIDC, err = serve.NewOIDC(ctx, *o, reader.Policy); err != nil {
					return err
				}
			}
			auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan struct{})
			go func() {
				reader.Audit.Run(auditCtx, 2*time.Second, func(err error) { slog.Error("access audit", "err", err) })
				close(done)
			}()
			if err := srv.Warm(ctx); err != nil {
				slog.Warn("dashboard warm-up failed; pages compute on first use", "err", err)
			}
			go srv.WarmEvery(ctx, 30*time.Second)
			scheme := "http"
			if cert != "" {
				scheme = "https"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s://%s (Ctrl-C to stop)\n", scheme, listen)
			err = srv.ListenAndServe(ctx, listen, cert, key)
			stopAudit()
			<-done // the last reads are in the audit before we exit
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address to listen on (default serve.listen, or 127.0.0.1:8080)")
	f.StringVar(&cert, "tls-cert", "", "PEM certificate: serve HTTPS only")
	f.StringVar(&key, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&anon, "anonymous-role", "", "role of requests without credentials (loopback only; for a single-user laptop)")
	return cmd
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newGrantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Show the roles' grants and PHI permission; add or revoke grants",
		Long: `Roles and their first grants are declared in rcmlake.yaml (roles:). Grants added here are
stored in the lake (_governance/grants) and apply on top, to every rcmlake serve and query --role
within seconds. A grant is "select on catalog", "select on gold.*", "select on silver.patients",
or "read phi" (see PHI columns unmasked).`,
		Example: `  rcmlake grants
  rcmlake grants add viewer "select on silver.providers"
  rcmlake grants add analyst "read phi"
  rcmlake grants revoke viewer "select on silver.providers"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			stored, err := access.LoadGrants(ctx, lh.Store)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ROLE\tGRANT\tFROM")
			for _, r := range cfg.Roles {
				for _, g := range r.Grants {
					fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, g, cfg.File())
				}
				if r.PHI {
					fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, access.PHIGrant, cfg.File())
				}
			}
			entries := append([]access.GrantEntry(nil), stored.Entries...)
			sort.Slice(entries, func(i, j int) bool { return entries[i].Role < entries[j].Role })
			for _, e := range entries {
				fmt.Fprintf(w, "%s\t%s\tlake (by %s, %s)\n", e.Role, e.Grant, e.By, e.Granted.Format("2006-01-02"))
			}
			return w.Flush()
		},
	}
	change := func(use, short string, add bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ROLE GRANT",
			Short: short,
			Args:  exactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				cfg, lh, err := openLake(ctx)
				if err != nil {
					return err
				}
				defer lh.Close()
				if !hasRole(cfg, args[0]) {
					return usagef("no role %q in %s (roles are declared there)", args[0], cfg.File())
				}
				if add {
					err = access.AddGrant(ctx, lh.Store, args[0], args[1], currentUser())
				} else {
					err = access.RevokeGrant(ctx, lh.Store, args[0], args[1])
				}
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", args[0], map[bool]string{true: "granted", false: "revoked"}[add], args[1])
				return nil
			},
		}
	}
	cmd.AddCommand(change("add", "Grant a role a privilege (stored in the lake)", true))
	cmd.AddCommand(change("revoke", "Revoke a grant stored in the lake", false))
	return cmd
}

func hasRole(cfg *config.Config, name string) bool {
	for _, r := range cfg.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke API tokens for rcmlake serve",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			ts, err := access.LoadTokens(ctx, lh.Store)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tSTATE")
			now := time.Now()
			for _, t := range ts.Entries {
				state := "active"
				switch {
				case !t.Revoked.IsZero():
					state = "revoked " + t.Revoked.Format("2006-01-02")
				case !t.Active(now):
					state = "expired"
				}
				exp := "never"
				if !t.Expires.IsZero() {
					exp = t.Expires.Format("2006-01-02")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.Created.Format("2006-01-02"), exp, state)
			}
			return w.Flush()
		},
	}
	var name, role, ttl string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token; it is shown once and stored only as a hash",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			if name == "" || !hasRole(cfg, role) {
				return usagef("give --name and a --role declared in %s", cfg.File())
			}
			var d time.Duration
			if ttl != "" {
				if d, err = parseDays(ttl); err != nil {
					return usagef("--expires %q: %v", ttl, err)
				}
			}
			t, text, err := access.CreateToken(ctx, lh.Store, name, role, d)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), text)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s for %s (role %s); it is not shown again\n", t.ID, name, role)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "who or what holds the token")
	create.Flags().StringVar(&role, "role", "", "the token's role")
	create.Flags().StringVar(&ttl, "expires", "90d", "lifetime, e.g. 90d or 12h; 0 for none")
	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token (serve notices within seconds)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			t, err := access.RevokeToken(ctx, lh.Store, args[0])
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s (%s, role %s)\n", t.ID, t.Name, t.Role)
			return nil
		},
	}
	cmd.AddCommand(create, revoke)
	return cmd
}

// parseDays reads a Go duration, or a number of days as "90d"; "0" means none.
func parseDays(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var d int
		if _, err := fmt.Sscanf(n, "%d", &d); err != nil || d <= 0 {
			return 0, fmt.Errorf("want a positive number of days")
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want e.g. 90d or 12h")
	}
	return d, nil
}

// currentUser names who runs the CLI, for the record of who granted what.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
