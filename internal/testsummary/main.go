// Command testsummary runs go test -json with the arguments it is given and
// prints what a reader needs: an "ok" line per passing package, the output
// of each failed test (then a recap of its failure lines, so the reason is
// at the end of the package's output), and a closing summary with the tests
// skipped for a missing server or browser and the Debian packages to
// install. The last line reads "tests: N passed, N failed, N skipped".
//
// It exits with go test's exit status, or 1 if go test exited 0 but a test
// failed. `make test` runs it:
//
//	go run ./internal/testsummary -race -count=1 -timeout 15m ./...
//
// Set GO to use another go command.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// event is one line of go test -json (see go doc test2json).
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output, build-fail
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// test is one test or subtest of a package.
type test struct {
	name   string
	action string // pass, fail, skip; "" while running
	output []string
	failed bool // has a failed subtest
}

// pkg collects one package's events until it ends.
type pkg struct {
	name   string
	output []string // lines not attributed to a test
	tests  map[string]*test
	order  []string // tests in the order they ended
	failed bool     // a test failed
}

func (p *pkg) test(name string) *test {
	t := p.tests[name]
	if t == nil {
		t = &test{name: name}
		p.tests[name] = t
	}
	return t
}

// skip is a test skipped for a missing program.
type skip struct {
	test   string
	debian string // Debian package named in the skip message
}

type report struct {
	w        io.Writer
	pkgs     map[string]*pkg
	build    map[string][]string // build output by import path
	passed   int
	failed   []string // the failed tests that have no failed subtest
	nfailed  int      // every failed test and subtest
	skipped  int
	missing  []skip
	other    int // skipped for another reason
	sawFail  bool
	maxLines int
}

// debianPackage finds the package a skip message asks for: testservice and
// the browser test say "install the Debian package NAME".
var debianPackage = regexp.MustCompile(`install the Debian package ([a-z0-9][a-z0-9.+-]*[a-z0-9])`)

// failureLine matches a line written by t.Error, t.Fatal or t.Log in a test
// file or in the store suite (store/storetest), as opposed to server logs
// and t.Log-backed loggers (testlog), and
// the first line of a panic, a timeout or a data race report.
var failureLine = regexp.MustCompile(`^\s*(?:[\w.-]+_test|cases|storetest)\.go:\d+: |^(panic: |fatal error: |WARNING: DATA RACE)|^\s*testing\.go:\d+: race detected`)

// framing matches the lines go test adds around a test's own output.
var framing = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):)`)

func main() {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	r := &report{w: os.Stdout, pkgs: map[string]*pkg{}, build: map[string][]string{}, maxLines: 120}
	r.read(out)
	err = cmd.Wait()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		code = 2
	}
	if code == 0 && (r.sawFail || len(r.failed) > 0) {
		code = 1
	}
	r.summary(time.Since(start), code)
	os.Exit(code)
}

// read consumes the event stream, printing each package when it ends. A
// line that is not JSON (go test's own errors) is printed as it is.
func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(r.w, string(line))
			continue
		}
		r.event(e)
	}
	// Packages that never ended (go test was killed): show what they had.
	for _, name := range sortedKeys(r.pkgs) {
		p := r.pkgs[name]
		r.sawFail = true
		r.printPackage(p, "incomplete")
	}
}

func (r *report) event(e event) {
	switch e.Action {
	case "build-output":
		r.build[e.ImportPath] = append(r.build[e.ImportPath], e.Output)
		return
	case "build-fail":
		return
	}
	p := r.pkgs[e.Package]
	if p == nil {
		p = &pkg{name: e.Package, tests: map[string]*test{}}
		r.pkgs[e.Package] = p
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output = append(p.output, e.Output)
		case "pass", "fail", "skip":
			if e.Action == "fail" {
				r.sawFail = true
				r.unfinished(p)
				if !p.failed {
					// A build failure, or a crash or leak check outside any test.
					r.nfailed++
					why := "outside any test"
					if e.FailedBuild != "" {
						why = "build failed"
					}
					r.failed = append(r.failed, shortPkg(p.name)+" ["+why+"]")
				}
				if e.FailedBuild != "" {
					for _, l := range r.build[e.FailedBuild] {
						fmt.Fprint(r.w, l)
					}
				}
			}
			r.printPackage(p, e.Action)
			delete(r.pkgs, e.Package)
		}
		return
	}
	t := p.test(e.Test)
	switch e.Action {
	case "pass", "fail", "skip":
		p.order = append(p.order, t.name)
	}
	switch e.Action {
	case "output":
		t.output = append(t.output, e.Output)
	case "pass":
		t.action = e.Action
		r.passed++
	case "skip":
		t.action = e.Action
		r.skipped++
		r.classifySkip(p.name, t)
	case "fail":
		t.action = e.Action
		r.nfailed++
		p.failed = true
		if !t.failed {
			r.failed = append(r.failed, shortPkg(p.name)+" "+t.name)
		}
		for parent := parentOf(t.name); parent != ""; parent = parentOf(parent) {
			p.test(parent).failed = true
		}
	}
}

// unfinished counts as failed the tests of a failed package that never
// ended: they were running when the test binary panicked or timed out.
func (r *report) unfinished(p *pkg) {
	for _, name := range sortedKeys(p.tests) {
		if p.tests[name].action != "" {
			continue
		}
		r.nfailed++
		p.failed = true
		leaf := true
		for other, t := range p.tests {
			if t.action == "" && strings.HasPrefix(other, name+"/") {
				leaf = false
			}
		}
		if leaf {
			r.failed = append(r.failed, shortPkg(p.name)+" "+name+" [did not finish]")
		}
	}
}

func (r *report) classifySkip(pkgName string, t *test) {
	for _, l := range t.output {
		if m := debianPackage.FindStringSubmatch(l); m != nil {
			r.missing = append(r.missing, skip{test: shortPkg(pkgName) + " " + t.name, debian: m[1]})
			return
		}
	}
	r.other++
}

// printPackage prints a package that ended: go test's own lines for a
// package that passed, and for one that failed the output of each failed
// test, then a recap of their failure lines and the FAIL line.
func (r *report) printPackage(p *pkg, action string) {
	var final []string
	for _, l := range p.output {
		switch strings.TrimSpace(l) {
		case "PASS", "FAIL", "":
			continue
		}
		final = append(final, l)
	}
	if action != "fail" && action != "incomplete" {
		for _, l := range final {
			fmt.Fprint(r.w, l)
		}
		return
	}
	var recap []string
	names := p.order
	{ // tests that never ended: running when the binary panicked or timed out
		for _, name := range sortedKeys(p.tests) {
			if p.tests[name].action == "" {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		t := p.tests[name]
		if t.action != "fail" && t.action != "" {
			continue
		}

		own := ownOutput(t.output)
		if t.failed && len(own) == 0 {
			continue // its failed subtests say why
		}
		status := "FAIL"
		if t.action == "" {
			status = "did not finish"
		}
		fmt.Fprintf(r.w, "--- %s: %s\n", status, name)
		r.printCapped(own)
		lines := 0
		for _, l := range own {
			if failureLine.MatchString(l) {
				lines++
			}
		}
		recap = append(recap, fmt.Sprintf("    %s:\n", name))
		kept := 0
		for _, l := range own {
			if failureLine.MatchString(l) {
				if kept++; kept > lines-4 { // the last four: a Fatal ends the list
					recap = append(recap, "        "+strings.TrimLeft(l, " \t"))
				}
			}
		}
		if kept == 0 && len(own) > 0 {
			recap = append(recap, "        "+strings.TrimLeft(own[len(own)-1], " \t"))
		}
	}
	for _, l := range final {
		if !strings.HasPrefix(l, "FAIL\t") && !strings.HasPrefix(l, "ok ") {
			fmt.Fprint(r.w, l)
		}
	}
	if len(recap) > 24 {
		recap = append(recap[:22], fmt.Sprintf("    ... and more: see above (%d lines cut)\n", len(recap)-22))
	}
	if len(recap) > 0 {
		fmt.Fprintf(r.w, "=== %s failed:\n", p.name)
		for _, l := range recap {
			fmt.Fprint(r.w, l)
		}
	}
	for _, l := range final {
		if strings.HasPrefix(l, "FAIL\t") {
			fmt.Fprint(r.w, l)
			return
		}
	}
	fmt.Fprintf(r.w, "FAIL\t%s (%s)\n", p.name, action)
}

// printCapped prints a failed test's output, cutting the middle of a very
// long one (a server's log) so the reader still finds the failure.
func (r *report) printCapped(lines []string) {
	if len(lines) <= r.maxLines {
		for _, l := range lines {
			fmt.Fprint(r.w, l)
		}
		return
	}
	head := r.maxLines / 4
	tail := r.maxLines - head
	for _, l := range lines[:head] {
		fmt.Fprint(r.w, l)
	}
	fmt.Fprintf(r.w, "        [... %d lines cut: go test -v shows them ...]\n", len(lines)-head-tail)
	for _, l := range lines[len(lines)-tail:] {
		fmt.Fprint(r.w, l)
	}
}

// ownOutput drops the framing lines from a test's output.
func ownOutput(lines []string) []string {
	var own []string
	for _, l := range lines {
		if !framing.MatchString(l) {
			own = append(own, l)
		}
	}
	return own
}

func (r *report) summary(took time.Duration, code int) {
	w := r.w
	fmt.Fprintln(w)
	if len(r.missing) > 0 {
		byPkg := map[string][]string{}
		for _, s := range r.missing {
			byPkg[s.debian] = append(byPkg[s.debian], s.test)
		}
		debs := sortedKeys(byPkg)
		fmt.Fprintf(w, "%s skipped for a missing server or browser:\n", plural(len(r.missing), "test"))
		for _, d := range debs {
			tests := byPkg[d]
			more := ""
			if len(tests) > 3 {
				more = fmt.Sprintf(", and %d more", len(tests)-3)
				tests = tests[:3]
			}
			fmt.Fprintf(w, "  %-16s %d (%s%s)\n", d, len(byPkg[d]), strings.Join(tests, ", "), more)
		}
		fmt.Fprintf(w, "To run them: sudo apt-get install -y --no-install-recommends %s\n", strings.Join(debs, " "))
	}
	if r.other > 0 {
		fmt.Fprintf(w, "%s skipped for other reasons (go test -v ./... | grep -- '--- SKIP' lists them).\n", plural(r.other, "test"))
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(w, "Failed:\n")
		for i, f := range r.failed {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more\n", len(r.failed)-20)
				break
			}
			fmt.Fprintf(w, "  %s\n", f)
		}
	} else if code != 0 {
		fmt.Fprintf(w, "go test exited with status %d (a build failure or a crash: see above).\n", code)
	}
	failed := r.nfailed
	if failed == 0 && code != 0 {
		failed = 1 // go test failed before any package ran
	}
	fmt.Fprintf(w, "took %v\n", took.Round(time.Second))
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", r.passed, failed, r.skipped)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func parentOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

// shortPkg drops the module path from a package's import path.
func shortPkg(p string) string {
	const mod = "github.com/httpsession/httpsession"
	if p == mod {
		return "."
	}
	return "./" + strings.TrimPrefix(p, mod+"/")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
