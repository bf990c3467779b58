package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

// binary is the sessionctl built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionctl")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building sessionctl: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// sessionctl runs the binary with args and env (added to an environment
// without HTTPSESSION_STORE).
func sessionctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envStore+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running sessionctl %q: %v", args, err)
	}
	return r
}

// want runs sessionctl against store and checks its exit code.
func want(t *testing.T, code int, store string, args ...string) result {
	t.Helper()
	r := sessionctl(t, nil, append([]string{"-store", store}, args...)...)
	if r.code != code {
		t.Fatalf("sessionctl %s: exit %d, want %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if code != exitOK && (!strings.HasPrefix(r.stderr, "sessionctl: ") || strings.Count(r.stderr, "\n") != 1) {
		t.Errorf("sessionctl %s: stderr is not one line starting with \"sessionctl: \": %q", strings.Join(args, " "), r.stderr)
	}
	return r
}

// seeded holds the store keys of the sessions seed writes.
type seeded struct {
	ann1, ann2, bob, anon string
}

// seed writes four sessions through a Manager (two of owner ann, one of
// bob, one without owner) and, with expired, a fifth that expires at once.
// It closes the store before it returns, since some stores lock their file.
func seed(t *testing.T, url string, expired bool) seeded {
	t.Helper()
	ctx := context.Background()
	store, closeStore, err := open.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	save := func(lifetime time.Duration, owner string, values map[string]any) string {
		t.Helper()
		m, err := httpsession.New(httpsession.Config{Store: store, Lifetime: lifetime, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		s, err := m.Load(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range values {
			s.Set(k, v)
		}
		if owner != "" {
			s.SetOwner(owner)
		}
		if err := m.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		return httpsession.StoreKey(s.Token())
	}
	var k seeded
	k.ann1 = save(time.Hour, "ann", map[string]any{"name": "ann", "cart": []any{"apple", "pear"}, "n": 42})
	k.ann2 = save(time.Hour, "ann", map[string]any{"theme": "dark"})
	k.bob = save(time.Hour, "bob", map[string]any{"note": "\x1b[31mred"})
	k.anon = save(time.Hour, "", map[string]any{"visits": 1})
	if expired {
		save(50*time.Millisecond, "old", map[string]any{"x": 1})
		time.Sleep(100 * time.Millisecond)
	}
	return k
}

// capability says what a store can do.
type capability struct {
	list, clean bool
	exact       bool // the store holds only this test's sessions
}

// exercise runs every command against a seeded store.
func exercise(t *testing.T, url string, c capability) {
	k := seed(t, url, c.clean)
	unknown := strings.Repeat("0", 64)

	if c.list {
		checkList(t, url, k, c.exact)
	} else {
		for _, cmd := range []string{"list", "stats"} {
			r := want(t, exitUnsupported, url, cmd)
			if !strings.Contains(r.stderr, "cannot list sessions") {
				t.Errorf("%s: stderr %q does not say the store cannot list sessions", cmd, r.stderr)
			}
		}
	}

	r := want(t, exitOK, url, "show", k.ann1)
	for _, s := range []string{"owner", "ann", `"apple"`, `"pear"`, "42", k.ann1} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("show: no %q in\n%s", s, r.stdout)
		}
	}
	r = want(t, exitOK, url, "show", k.bob)
	if strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, `"\x1b[31mred"`) {
		t.Errorf("show: an escape sequence in a value was not quoted:\n%q", r.stdout)
	}
	var info httpsession.SessionInfo
	r = want(t, exitOK, url, "show", k.ann1, "-json")
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("show -json: %v\n%s", err, r.stdout)
	}
	if info.Key != k.ann1 || info.Owner != "ann" || info.Values["name"] != "ann" || info.Values["n"] != 42.0 {
		t.Errorf("show -json: %+v", info)
	}
	if r := want(t, exitNotFound, url, "show", unknown); !strings.Contains(r.stderr, "no live session") {
		t.Errorf("show of an unknown key: stderr %q", r.stderr)
	}

	r = want(t, exitOK, url, "owner", "ann")
	if !strings.HasPrefix(r.stdout, "KEY ") || !strings.Contains(r.stdout, k.ann1) ||
		!strings.Contains(r.stdout, k.ann2) || strings.Contains(r.stdout, k.bob) {
		t.Errorf("owner ann:\n%s", r.stdout)
	}
	if got := jsonLines(t, want(t, exitOK, url, "-json", "owner", "ann").stdout); len(got) != 2 {
		t.Errorf("owner -json ann: %d sessions, want 2", len(got))
	}
	if r := want(t, exitOK, url, "owner", "nobody"); !strings.Contains(r.stdout, "no live sessions of owner nobody") {
		t.Errorf("owner nobody: %q", r.stdout)
	}

	if r := want(t, exitOK, url, "destroy-owner", "ann"); r.stdout != "destroyed 2 sessions of owner ann\n" {
		t.Errorf("destroy-owner ann: %q", r.stdout)
	}
	want(t, exitNotFound, url, "show", k.ann1)
	want(t, exitNotFound, url, "show", k.ann2)
	if r := want(t, exitOK, url, "-json", "destroy-owner", "ann"); r.stdout != `{"destroyed":0,"owner":"ann"}`+"\n" {
		t.Errorf("destroy-owner -json ann again: %q", r.stdout)
	}

	want(t, exitOK, url, "delete", k.bob)
	want(t, exitNotFound, url, "show", k.bob)
	want(t, exitNotFound, url, "delete", k.bob)
	want(t, exitOK, url, "show", k.anon)

	checkGC(t, url, c)
}

func checkList(t *testing.T, url string, k seeded, exact bool) {
	t.Helper()
	r := want(t, exitOK, url, "list")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	header := strings.Fields(lines[0])
	if strings.Join(header, " ") != "KEY OWNER CREATED LAST SEEN EXPIRES SIZE USER AGENT IP" {
		t.Errorf("list: header %q", lines[0])
	}
	for _, key := range []string{k.ann1, k.ann2, k.bob, k.anon} {
		if !strings.Contains(r.stdout, key+"  ") {
			t.Errorf("list: no row for %s in\n%s", key, r.stdout)
		}
	}
	if exact && len(lines) != 5 {
		t.Errorf("list: %d lines, want a header and 4 rows:\n%s", len(lines), r.stdout)
	}
	// The columns line up: every row has OWNER where the header has it.
	col := strings.Index(lines[0], "OWNER")
	for _, l := range lines[1:] {
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("list: row not aligned with the header:\n%s\n%s", lines[0], l)
		}
	}

	infos := jsonLines(t, want(t, exitOK, url, "list", "-json").stdout)
	seen := map[string]httpsession.SessionInfo{}
	for _, info := range infos {
		seen[info.Key] = info
	}
	if seen[k.ann1].Owner != "ann" || seen[k.bob].Owner != "bob" || seen[k.anon].Size == 0 || seen[k.ann1].Values != nil {
		t.Errorf("list -json: %+v", seen)
	}
	if exact && len(infos) != 4 {
		t.Errorf("list -json: %d sessions, want 4", len(infos))
	}

	var st storeStats
	r = want(t, exitOK, url, "-json", "stats")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stats -json: %v\n%s", err, r.stdout)
	}
	if st.Sessions < 4 || st.Owners < 2 || st.WithoutOwner < 1 || st.AverageBytes <= 0 ||
		st.TotalBytes < 4*st.AverageBytes || st.OldestCreated.IsZero() {
		t.Errorf("stats -json: %+v", st)
	}
	if exact && (st.Sessions != 4 || st.Owners != 2 || st.WithoutOwner != 1) {
		t.Errorf("stats -json: %+v, want 4 sessions, 2 owners, 1 without", st)
	}
	r = want(t, exitOK, url, "stats")
	if !strings.HasPrefix(r.stdout, "sessions ") || !strings.Contains(r.stdout, "oldest created") {
		t.Errorf("stats:\n%s", r.stdout)
	}
}

func checkGC(t *testing.T, url string, c capability) {
	t.Helper()
	if !c.clean {
		if r := want(t, exitUnsupported, url, "gc"); !strings.Contains(r.stderr, "expires records itself") {
			t.Errorf("gc: stderr %q", r.stderr)
		}
		return
	}
	// seed left one expired record.
	if r := want(t, exitOK, url, "gc"); r.stdout != "deleted 1 expired record\n" {
		t.Errorf("gc: %q", r.stdout)
	}
	if r := want(t, exitOK, url, "gc", "-json"); r.stdout != `{"deleted":0}`+"\n" {
		t.Errorf("gc -json: %q", r.stdout)
	}
}

func jsonLines(t *testing.T, out string) []httpsession.SessionInfo {
	t.Helper()
	var infos []httpsession.SessionInfo
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var info httpsession.SessionInfo
		if err := json.Unmarshal(sc.Bytes(), &info); err != nil {
			t.Fatalf("not a JSON line: %v: %q", err, sc.Text())
		}
		infos = append(infos, info)
	}
	return infos
}

func TestBolt(t *testing.T) {
	t.Parallel()
	exercise(t, "bolt:"+filepath.Join(t.TempDir(), "sessions.db"), capability{list: true, clean: true, exact: true})
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	exercise(t, "sqlite:"+filepath.Join(t.TempDir(), "sessions.sqlite"), capability{list: true, clean: true, exact: true})
}

func TestFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	exercise(t, "file:"+dir, capability{list: true, clean: true, exact: true})
}

func TestRedis(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	exercise(t, srv.DSN(), capability{list: true, exact: !srv.External()})
}

func TestMemcached(t *testing.T) {
	t.Parallel()
	srv := testservice.Memcached(t)
	// gomemcache's 500 ms timeout is short for a loaded machine.
	exercise(t, srv.DSN()+"?timeout=10s", capability{})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	store := "bolt:" + filepath.Join(t.TempDir(), "never-opened.db")
	for name, args := range map[string][]string{
		"no command":         {},
		"unknown command":    {"lsit"},
		"short key":          {"show", "abc"},
		"non-hex key":        {"delete", strings.Repeat("g", 64)},
		"missing key":        {"show"},
		"extra argument":     {"list", "now"},
		"two keys":           {"show", strings.Repeat("a", 64), strings.Repeat("b", 64)},
		"empty owner":        {"owner", ""},
		"unknown codec":      {"-codec", "xml", "list"},
		"unknown flag":       {"-verbose", "list"},
		"negative timeout":   {"-timeout", "-1s", "list"},
		"in-process mem":     {"-store", "mem:", "list"},
		"flag after command": {"list", "-nope"},
	} {
		t.Run(name, func(t *testing.T) {
			want(t, exitUsage, store, args...)
		})
	}
	if _, err := os.Stat(strings.TrimPrefix(store, "bolt:")); !os.IsNotExist(err) {
		t.Errorf("a usage error opened the store: %v", err)
	}

	r := sessionctl(t, nil, "list")
	if r.code != exitUsage || !strings.Contains(r.stderr, "HTTPSESSION_STORE") {
		t.Errorf("no store: exit %d, stderr %q", r.code, r.stderr)
	}
	r = sessionctl(t, nil, "-h")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: sessionctl") || !strings.Contains(r.stdout, "destroy-owner OWNER") {
		t.Errorf("-h: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestEnvironmentStore(t *testing.T) {
	t.Parallel()
	url := "bolt:" + filepath.Join(t.TempDir(), "sessions.db")
	k := seed(t, url, false)
	r := sessionctl(t, []string{envStore + "=" + url}, "show", strings.ToUpper(k.bob))
	if r.code != exitOK || !strings.Contains(r.stdout, k.bob) {
		t.Errorf("show with $%s: exit %d\n%s%s", envStore, r.code, r.stdout, r.stderr)
	}
}

func TestWrongCodec(t *testing.T) {
	t.Parallel()
	url := "bolt:" + filepath.Join(t.TempDir(), "sessions.db")
	k := seed(t, url, false)
	r := want(t, exitOK, url, "-codec", "json", "list")
	if r.stdout != "no live sessions\n" || !strings.Contains(r.stderr, "skipped 4 records that codec json could not decode") {
		t.Errorf("list with the wrong codec: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r := want(t, exitError, url, "-codec", "json", "show", k.ann1); !strings.Contains(r.stderr, "-codec json") {
		t.Errorf("show with the wrong codec: stderr %q", r.stderr)
	}
	// Records that do not decode can still be deleted.
	want(t, exitOK, url, "-codec", "json", "delete", k.bob)
	want(t, exitNotFound, url, "show", k.bob)
	r = want(t, exitOK, url, "-codec", "json", "destroy-owner", "ann")
	if r.stdout != "destroyed 2 sessions of owner ann\n" {
		t.Errorf("destroy-owner with the wrong codec: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	want(t, exitNotFound, url, "show", k.ann1)
	want(t, exitOK, url, "show", k.anon)
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	r := want(t, exitError, "redis://:sekrit@127.0.0.1:1", "list")
	if strings.Contains(r.stderr, "sekrit") {
		t.Errorf("the password reached stderr: %q", r.stderr)
	}

	missing := filepath.Join(t.TempDir(), "typo.db")
	if r := want(t, exitError, "bolt:"+missing, "list"); !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing bolt file: stderr %q", r.stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("sessionctl created %s: %v", missing, err)
	}

	// bbolt locks its file: while the test holds it, sessionctl gives up.
	url := "bolt:" + filepath.Join(t.TempDir(), "locked.db")
	_, closeStore, err := open.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if r := want(t, exitError, url, "list"); !strings.Contains(r.stderr, "locked") {
		t.Errorf("locked bolt file: stderr %q", r.stderr)
	}
}

// TestRunInProcess drives run itself, so the race detector sees the
// command code.
func TestRunInProcess(t *testing.T) {
	url := "bolt:" + filepath.Join(t.TempDir(), "sessions.db")
	k := seed(t, url, true)
	for _, args := range [][]string{
		{"list"}, {"-json", "list"}, {"stats"}, {"show", k.ann1}, {"owner", "ann"}, {"gc"}, {"destroy-owner", "bob"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"-store", url}, args...), &stdout, &stderr); code != exitOK {
			t.Errorf("run %q: exit %d: %s", args, code, stderr.String())
		}
		if stdout.Len() == 0 {
			t.Errorf("run %q wrote nothing", args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-store", url, "show", strings.Repeat("f", 64)}, &stdout, &stderr); code != exitNotFound {
		t.Errorf("run show of an unknown key: exit %d, want %d", code, exitNotFound)
	}
}
