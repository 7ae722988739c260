package serve

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// ResultJSON is a governed result as the API returns it.
type ResultJSON struct {
	Columns   []string `json:"columns"`
	Types     []string `json:"types"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated"`
	Masked    []string `json:"masked_columns,omitempty"`
	PHI       bool     `json:"phi"`
}

func toJSON(res *access.Result) ResultJSON {
	out := ResultJSON{Columns: res.Columns, Types: res.Types, Rows: make([][]any, len(res.Rows)), Truncated: res.Truncated, Masked: res.Masked, PHI: res.PHI}
	for i, row := range res.Rows {
		r := make([]any, len(row))
		for j, v := range row {
			r[j] = duckdb.JSONValue(v)
		}
		out.Rows[i] = r
	}
	return out
}

// writeResult answers a result as JSON, or as CSV when ?format=csv (an export).
func writeResult(w http.ResponseWriter, r *http.Request, res *access.Result) {
	if r.URL.Query().Get("format") != "csv" {
		writeJSON(w, http.StatusOK, toJSON(res))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="rcmlake-export.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(res.Columns)
	rec := make([]string, len(res.Columns))
	for _, row := range res.Rows {
		for i, v := range row {
			if v == nil {
				rec[i] = ""
			} else {
				rec[i] = duckdb.CellText(v)
			}
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, p access.Principal) {
	role, _ := s.Reader.Policy.Role(p.Role)
	var grants []string
	if role != nil {
		for _, g := range role.Grants {
			grants = append(grants, g.String())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role, "grants": grants, "phi": s.Reader.Policy.SeesPHI(p.Role)})
}

func (s *Server) apiKPI(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.dashboard(r.Context(), p, f)
	if err != nil {
		s.fail(w, err, false)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiTables(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ts, err := s.listTables(r.Context(), p)
	if err != nil {
		s.fail(w, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tables": ts})
}

func (s *Server) apiTable(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, err := s.tableDetail(r.Context(), p, r.PathValue("table"))
	if err != nil {
		s.fail(w, err, isUser(err))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiTableRows(w http.ResponseWriter, r *http.Request, p access.Principal) {
	p.Via = viaFor(r, p)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	res, err := s.tableRows(r.Context(), p, r.PathValue("table"), limit)
	if err != nil {
		s.fail(w, err, isUser(err) || !access.IsDenied(err))
		return
	}
	writeResult(w, r, res)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.runs(r.Context(), p, 100)
	if err != nil {
		s.fail(w, err, false)
		return
	}
	writeResult(w, r, res)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.runTasks(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, err, isUser(err))
		return
	}
	writeResult(w, r, res)
}

func (s *Server) apiLoadLogs(w http.ResponseWriter, r *http.Request, p access.Principal) {
	res, err := s.loadLogs(r.Context(), p, 500)
	if err != nil {
		s.fail(w, err, false)
		return
	}
	writeResult(w, r, res)
}

func (s *Server) apiQuality(w http.ResponseWriter, r *http.Request, p access.Principal) {
	rows, tables, err := s.quality(r.Context(), p)
	if err != nil {
		s.fail(w, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tables": tables, "quarantined": rows})
}

func (s *Server) apiQualityRows(w http.ResponseWriter, r *http.Request, p access.Principal) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	res, err := s.quarantined(r.Context(), p, r.PathValue("table"), r.URL.Query().Get("rule"), limit)
	if err != nil {
		s.fail(w, err, isUser(err))
		return
	}
	writeResult(w, r, res)
}

// SQLRequest is the SQL endpoint's body.
type SQLRequest struct {
	SQL  string `json:"sql"`
	AsOf string `json:"as_of,omitempty"` // pin every table at this time
}

func (s *Server) apiSQL(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req SQLRequest
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "the body must be JSON: {\"sql\": \"SELECT ...\"}")
			return
		}
	} else {
		// A browser form; sessions need the CSRF token, bearer tokens are not ambient.
		if r.Header.Get("Authorization") == "" && !checkCSRF(r) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
			return
		}
		req.SQL, req.AsOf = r.PostFormValue("sql"), r.PostFormValue("as_of")
	}
	p.Via = "sql"
	if r.URL.Query().Get("format") == "csv" {
		p.Via = "export"
	}
	res, err := s.runSQL(r, p, req)
	if err != nil {
		s.fail(w, err, !errors.Is(err, errInternal))
		return
	}
	writeResult(w, r, res)
}

var errInternal = errors.New("internal")

func (s *Server) runSQL(r *http.Request, p access.Principal, req SQLRequest) (*access.Result, error) {
	if strings.TrimSpace(req.SQL) == "" {
		return nil, userError{errors.New("give the SQL to run")}
	}
	if len(req.SQL) > 64<<10 {
		return nil, userError{errors.New("the query is longer than 64 KiB")}
	}
	var asOf *time.Time
	if req.AsOf != "" {
		t, err := catalog.ParseTime(req.AsOf)
		if err != nil {
			return nil, userError{err}
		}
		asOf = &t
	}
	ctx, cancel := contextWithTimeout(r, s.QueryTimeout)
	defer cancel()
	return s.Reader.Query(ctx, p, r.Method+" "+r.URL.Path, req.SQL, asOf)
}

func isUser(err error) bool {
	var u userError
	return errors.As(err, &u)
}

func viaFor(r *http.Request, p access.Principal) string {
	if r.URL.Query().Get("format") == "csv" {
		return "export"
	}
	return p.Via
}
