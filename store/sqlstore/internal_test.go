package sqlstore

import (
	"os"
	"strings"
	"testing"
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
