package serve

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	User    *access.Principal
	PHI     bool
	CSRF    string
	Error   string
	Heading string
	Data    any
	JSON    any
}

var pageNames = []string{"login", "dashboard", "quality", "rows", "runs", "run", "catalog", "table", "sql"}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"cell": func(v any) string {
			if v == nil {
				return ""
			}
			if t, ok := v.(time.Time); ok {
				return t.UTC().Format("2006-01-02 15:04:05")
			}
			return duckdb.CellText(v)
		},
		"money": func(v float64) string { return formatMoney(v) },
		"join":  strings.Join,
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(webFS, "web/templates/base.html", "web/templates/partials.html", "web/templates/"+name+".html"))
	}
	return out
}

// formatMoney renders dollars with thousands separators and no cents.
func formatMoney(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-$" + b.String()
	}
	return "$" + b.String()
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.CSRF = s.csrfToken(w, r)
	if v.User != nil {
		v.PHI = s.Reader.Policy.SeesPHI(v.User.Role)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := s.pages[name].ExecuteTemplate(w, "base", v); err != nil {
		s.Log.Error("rendering a page", "page", name, "err", scrub(err.Error()))
	}
}

// pageError renders a page with an error instead of its data.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, p access.Principal, name, nav string, err error) {
	status, msg := http.StatusInternalServerError, ""
	switch {
	case access.IsDenied(err):
		status, msg = http.StatusForbidden, err.Error()
	case isUser(err):
		status, msg = http.StatusBadRequest, err.Error()
	default:
		id := randomString(6)
		s.Log.Error("page failed", "id", id, "page", name, "err", scrub(err.Error()))
		msg = "Something went wrong (id " + id + "); the server log has the details."
	}
	s.render(w, r, status, "rows", view{Title: "Error", Nav: nav, User: &p, Error: msg, Heading: "Error"})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", view{Title: "Sign in"})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	client := clientAddr(r)
	if s.failures.blocked(client) {
		w.Header().Set("Retry-After", "5")
		s.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Sign in", Error: "Too many failed sign-ins; wait a little and try again."})
		return
	}
	if !checkCSRF(r) {
		s.render(w, r, http.StatusForbidden, "login", view{Title: "Sign in", Error: "The form expired; please try again."})
		return
	}
	p, err := s.verifyToken(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		s.failures.failed(client)
		s.Log.Warn("sign-in failed", "client", client)
		s.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Error: "That token is not valid."})
		return
	}
	id := s.sessions.create(p)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.tls, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.tls, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		s.pageError(w, r, p, "dashboard", "dashboard", userError{err})
		return
	}
	d, err := s.dashboard(r.Context(), p, f)
	if err != nil {
		s.pageError(w, r, p, "dashboard", "dashboard", err)
		return
	}
	var data any
	if len(d.Options.Months) > 0 {
		data = d
	}
	s.render(w, r, http.StatusOK, "dashboard", view{Title: "Dashboard", Nav: "dashboard", User: &p, Data: data, JSON: d})
}

func (s *Server) qualityPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	rows, tables, err := s.quality(r.Context(), p)
	if err != nil {
		s.pageError(w, r, p, "quality", "quality", err)
		return
	}
	s.render(w, r, http.StatusOK, "quality", view{Title: "Data quality", Nav: "quality", User: &p, Data: map[string]any{"Rows": rows, "Tables": tables}})
}

func (s *Server) qualityRowsPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	table, rule := r.PathValue("table"), r.URL.Query().Get("rule")
	res, err := s.quarantined(r.Context(), p, table, rule, 50)
	if err != nil {
		s.pageError(w, r, p, "rows", "quality", err)
		return
	}
	h := "Quarantined rows of " + table
	if rule != "" {
		h += " · " + rule
	}
	s.render(w, r, http.StatusOK, "rows", view{Title: h, Nav: "quality", User: &p, Heading: h, Data: res})
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	runs, err := s.runs(r.Context(), p, 50)
	if err != nil && !access.IsDenied(err) {
		runs = nil // no run history yet
	}
	loads, lerr := s.loadLogs(r.Context(), p, 50)
	if lerr != nil {
		loads = nil
	}
	if access.IsDenied(err) && access.IsDenied(lerr) {
		s.pageError(w, r, p, "runs", "runs", err)
		return
	}
	s.render(w, r, http.StatusOK, "runs", view{Title: "Runs", Nav: "runs", User: &p, Data: map[string]any{"Runs": runs, "Loads": loads}})
}

// bar is one task of a run's timeline.
type bar struct {
	Task, Status   string
	Seconds        float64
	X, W, Y, TextY int
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id := r.PathValue("id")
	res, err := s.runTasks(r.Context(), p, id)
	if err != nil {
		s.pageError(w, r, p, "run", "runs", err)
		return
	}
	var lo, hi time.Time
	for _, row := range res.Rows {
		st, ok1 := row[3].(time.Time)
		fi, ok2 := row[4].(time.Time)
		if ok1 && (lo.IsZero() || st.Before(lo)) {
			lo = st
		}
		if ok2 && fi.After(hi) {
			hi = fi
		}
	}
	span := hi.Sub(lo).Seconds()
	if span <= 0 {
		span = 1
	}
	const left, width = 300, 690
	var bars []bar
	for i, row := range res.Rows {
		b := bar{Task: fmt.Sprint(row[0]), Status: fmt.Sprint(row[1]), Y: i*18 + 2, TextY: i*18 + 13}
		st, ok1 := row[3].(time.Time)
		fi, ok2 := row[4].(time.Time)
		if ok1 && ok2 {
			b.Seconds = fi.Sub(st).Seconds()
			b.X = left + int(st.Sub(lo).Seconds()/span*width)
			b.W = max(2, int(b.Seconds/span*width))
		} else {
			b.X, b.W = left, 2
		}
		bars = append(bars, b)
	}
	s.render(w, r, http.StatusOK, "run", view{Title: "Run " + id, Nav: "runs", User: &p, Heading: id,
		Data: map[string]any{"Tasks": res, "Bars": bars, "Height": len(bars)*18 + 4}})
}

func (s *Server) catalogPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ts, err := s.listTables(r.Context(), p)
	if err != nil {
		s.pageError(w, r, p, "catalog", "catalog", err)
		return
	}
	s.render(w, r, http.StatusOK, "catalog", view{Title: "Catalog", Nav: "catalog", User: &p, Data: ts})
}

func (s *Server) tablePage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	name := r.PathValue("table")
	n, err := catalog.Parse(name)
	if err != nil {
		s.pageError(w, r, p, "table", "catalog", userError{err})
		return
	}
	d, err := s.tableDetail(r.Context(), p, n.Layer+"."+n.Table)
	if err != nil {
		s.pageError(w, r, p, "table", "catalog", err)
		return
	}
	sample, err := s.tableRows(r.Context(), p, name, 20)
	if err != nil {
		s.pageError(w, r, p, "table", "catalog", err)
		return
	}
	pinned := ""
	if n.Version != nil || n.AsOf != nil {
		pinned = strings.TrimPrefix(n.String(), n.Layer+"."+n.Table+"@")
	}
	s.render(w, r, http.StatusOK, "table", view{Title: d.Name, Nav: "catalog", User: &p, Data: map[string]any{"Detail": d, "Sample": sample, "Pinned": pinned}})
}

func (s *Server) sqlPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	data := map[string]any{"SQL": "SELECT member AS payer, sum(gross_charges) AS charges\nFROM gold.kpi_monthly\nWHERE grain = 'network_payer'\nGROUP BY 1 ORDER BY 2 DESC"}
	if r.Method == http.MethodPost {
		if !checkCSRF(r) {
			s.render(w, r, http.StatusForbidden, "sql", view{Title: "SQL", Nav: "sql", User: &p, Error: "The form expired; please try again.", Data: data})
			return
		}
		sql := r.PostFormValue("sql")
		data["SQL"] = sql
		p.Via = "sql"
		res, err := s.runSQL(r, p, SQLRequest{SQL: sql})
		if err != nil {
			msg := err.Error()
			if !access.IsDenied(err) && !isUser(err) {
				msg = scrub(msg) // an engine error about a value the role may not see unmasked
			}
			s.render(w, r, http.StatusBadRequest, "sql", view{Title: "SQL", Nav: "sql", User: &p, Error: msg, Data: data})
			return
		}
		data["Result"] = res
	}
	s.render(w, r, http.StatusOK, "sql", view{Title: "SQL", Nav: "sql", User: &p, Data: data})
}
