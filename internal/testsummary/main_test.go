package main

import (
	"bytes"
	"strings"
	"testing"
)

// events is go test -json output for three packages: one passes with a
// skip for a missing server, one has a failing subtest with a long log,
// one does not build.
const events = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"    a_test.go:3: quiet\n"}
{"Action":"pass","Package":"m/a","Test":"TestOK"}
{"Action":"run","Package":"m/a","Test":"TestRedis"}
{"Action":"output","Package":"m/a","Test":"TestRedis","Output":"    a_test.go:9: testservice: redis-server not found: install the Debian package redis-server (set X=1 to fail instead of skipping)\n"}
{"Action":"skip","Package":"m/a","Test":"TestRedis"}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.1s\n"}
{"Action":"pass","Package":"m/a"}
{"Action":"run","Package":"m/b","Test":"TestX"}
{"Action":"run","Package":"m/b","Test":"TestX/sub"}
LOG
{"Action":"output","Package":"m/b","Test":"TestX/sub","Output":"    b_test.go:7: boom\n"}
{"Action":"output","Package":"m/b","Test":"TestX/sub","Output":"    testservice.go:200: server log after the failure\n"}
{"Action":"fail","Package":"m/b","Test":"TestX/sub"}
{"Action":"fail","Package":"m/b","Test":"TestX"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b\t0.2s\n"}
{"Action":"fail","Package":"m/b"}
{"Action":"build-output","ImportPath":"m/c [m/c.test]","Output":"c_test.go:3:2: undefined: x\n"}
{"Action":"build-fail","ImportPath":"m/c [m/c.test]"}
{"Action":"output","Package":"m/c","Output":"FAIL\tm/c [build failed]\n"}
{"Action":"fail","Package":"m/c","FailedBuild":"m/c [m/c.test]"}
`

func TestReport(t *testing.T) {
	var log strings.Builder
	for range 500 {
		log.WriteString(`{"Action":"output","Package":"m/b","Test":"TestX/sub","Output":"    testlog.go:49: level=ERROR msg=expected\n"}` + "\n")
	}
	var out bytes.Buffer
	r := &report{w: &out, pkgs: map[string]*pkg{}, build: map[string][]string{}, maxLines: 120}
	r.read(strings.NewReader(strings.Replace(events, "LOG\n", log.String(), 1)))
	r.summary(0, 1)
	got := out.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")

	if last := lines[len(lines)-1]; last != "tests: 1 passed, 3 failed, 1 skipped" {
		t.Errorf("last line %q, want the counts (TestX, TestX/sub and the package that did not build failed)", last)
	}
	for _, want := range []string{
		"ok  \tm/a\t0.1s",
		"c_test.go:3:2: undefined: x",
		"To run them: sudo apt-get install -y --no-install-recommends redis-server",
		"  ./m/b TestX/sub",
		"  ./m/c [build failed]",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet") {
		t.Errorf("a passing test's log was printed:\n%s", got)
	}
	// The failure is among the last lines of the failed package's output.
	end := strings.Index(got, "FAIL\tm/b\t0.2s\n")
	if end < 0 {
		t.Fatalf("no FAIL line for m/b:\n%s", got)
	}
	block := strings.Split(got[:end], "\n")
	tail := strings.Join(block[max(0, len(block)-40):], "\n")
	if !strings.Contains(tail, "b_test.go:7: boom") {
		t.Errorf("the failure is not in the last 40 lines of its package's output:\n%s", tail)
	}
	if n := strings.Count(got, "level=ERROR"); n > 120 {
		t.Errorf("%d log lines of the failed test printed, want the long log cut", n)
	}
}
