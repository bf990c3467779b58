package sqlstore

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestDocDDL keeps the statements in the package documentation the ones
// CreateTable runs.
func TestDocDDL(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	for line := range strings.Lines(string(src)) {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			doc.WriteString(code)
		}
	}
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		stmts, err := sqlFor(d, DefaultTable)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range stmts.ddl {
			if !strings.Contains(doc.String(), stmt+";\n") {
				t.Errorf("doc.go lacks the %s statement\n%s;", d, stmt)
			}
		}
	}
}

func TestIndexName(t *testing.T) {
	if got := indexName("sessions", "owner"); got != "sessions_owner_idx" {
		t.Errorf("indexName(sessions, owner) = %q", got)
	}
	a := strings.Repeat("a", 62) + "1"
	b := strings.Repeat("a", 62) + "2"
	for _, col := range []string{"expires", "owner"} {
		na, nb := indexName(a, col), indexName(b, col)
		if len(na) > 63 || len(nb) > 63 || na == nb || !identifierOK(na) {
			t.Errorf("indexName of two long tables on %s: %q, %q; want distinct identifiers of at most 63 bytes", col, na, nb)
		}
	}
}

// TestSQLiteSweepPlan checks that SQLite finds a sweep batch in the
// expires index alone, without a scan of the table.
func TestSQLiteSweepPlan(t *testing.T) {
	dsn, err := SQLiteDSN(filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db, Options{Dialect: SQLite, AutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+s.sql.q[qSweep], 1, 250)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "COVERING INDEX "+indexName(DefaultTable, "expires")) || strings.Contains(text, "SCAN "+DefaultTable) {
		t.Fatalf("sweep plan:\n%s\nwant a search of the covering expires index and no table scan", text)
	}
	t.Logf("sweep plan:\n%s", text)
}
