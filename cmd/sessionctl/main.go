// Sessionctl inspects and maintains the sessions of an httpsession store
// from the command line: it lists them, shows one with its values, deletes
// one or all of an owner's, collects expired records and counts.
//
// Usage:
//
//	sessionctl [-store URL] [-codec gob|json|cbor] [-json] [-timeout 30s] COMMAND [ARG]
//
// The commands are:
//
//	list                 every live session: key, owner, times, size, client
//	show KEY             one session, by store key, with its values
//	delete KEY           delete one session
//	owner OWNER          the live sessions of an owner
//	destroy-owner OWNER  end every session of an owner ("sign out everywhere")
//	gc                   delete expired records, on stores without native expiry
//	stats                number of sessions, total and average size, owners, oldest
//	compact              rewrite a bolt: file without its free pages (application stopped)
//
// The store is named by -store or else by $HTTPSESSION_STORE, with the URLs
// of package store/open (bolt:PATH, sqlite:PATH, file:DIR, redis://...,
// redis+cluster://..., memcache://..., postgres://..., mysql://...). The
// codec must be the one the application writes with; gob is the default,
// as in the Manager.
//
// A KEY is a store key: the 64 lowercase hex characters of the SHA-256 of a
// session token, as list prints them. Showing one grants nothing.
//
// With -json every command writes JSON to standard output: list and owner
// one object per line, the others one object. Errors go to standard error as
// one line starting with "sessionctl: ". On a terminal, long scans (list,
// stats, gc) show a spinner on standard error, never with -json.
//
// Exit codes:
//
//	0  success
//	1  runtime or store error (unreachable server, timeout, decoding failure)
//	2  usage error (no or unknown command, bad key, no store)
//	3  the store cannot do this (list on memcached, gc on Redis)
//	4  not found (show or delete of a key with no live session)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/store/open"
)

// Exit codes of sessionctl.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitUnsupported = 3
	exitNotFound    = 4
)

// envStore names the store when -store is not given.
const envStore = "HTTPSESSION_STORE"

func main() {
	// go-redis logs each failed dial; the error sessionctl reports already
	// says why, on one line.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// options are the global flags.
type options struct {
	store   string
	codec   string
	json    bool
	timeout time.Duration
	// timeoutSet is whether -timeout was given.
	timeoutSet bool
}

// run executes one sessionctl command line (without the program name) and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	fs := flag.NewFlagSet("sessionctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&opts.store, "store", "", "store `URL` (default $"+envStore+")")
	fs.StringVar(&opts.codec, "codec", "gob", "`codec` the sessions are encoded with: gob, json or cbor")
	fs.BoolVar(&opts.json, "json", false, "write JSON to standard output")
	fs.DurationVar(&opts.timeout, "timeout", 30*time.Second, "give up after this `duration` (0: never)")

	pos, err := parseArgs(fs, args)
	fs.Visit(func(f *flag.Flag) { opts.timeoutSet = opts.timeoutSet || f.Name == "timeout" })
	if errors.Is(err, flag.ErrHelp) || (err == nil && len(pos) > 0 && pos[0] == "help") {
		usage(stdout, fs)
		return exitOK
	}
	if err == nil {
		err = check(&opts, pos)
	}
	if err != nil {
		return report(stderr, err)
	}
	// A compaction cannot stop half-way, so it runs under -timeout only
	// when that is given.
	if opts.timeout > 0 && (pos[0] != "compact" || opts.timeoutSet) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}
	cmd, arg := lookup(pos[0]), ""
	if len(pos) > 1 {
		arg = pos[1]
	}
	if pos[0] == "compact" {
		err = compact(ctx, opts, stdout)
		return finish(ctx, opts, stderr, err)
	}
	a, err := start(ctx, opts, stdout, stderr)
	if err == nil {
		err = cmd.run(a, ctx, arg)
		if cerr := a.close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}
	return finish(ctx, opts, stderr, err)
}

// finish reports err, naming a timeout or an interrupt, and returns the
// exit code.
func finish(ctx context.Context, opts options, stderr io.Writer, err error) int {
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %v (see -timeout): %w", opts.timeout, err)
	case errors.Is(ctx.Err(), context.Canceled):
		err = fmt.Errorf("interrupted: %w", err)
	}
	if err != nil {
		return report(stderr, err)
	}
	return exitOK
}

// parseArgs parses flags wherever they stand, before or after the command
// and its argument, and returns the other arguments. After "--" everything
// is an argument.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err == flag.ErrHelp {
			return nil, err
		} else if err != nil {
			return nil, usageErrorf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// check validates the command line before anything is opened, so a usage
// error never waits for a server.
func check(opts *options, pos []string) error {
	if len(pos) == 0 {
		return usageErrorf("no command (want one of %s)", commandNames())
	}
	cmd := lookup(pos[0])
	if cmd == nil {
		return usageErrorf("unknown command %q (want one of %s)", pos[0], commandNames())
	}
	want := 1
	if cmd.arg != "" {
		want = 2
	}
	if len(pos) != want {
		if cmd.arg == "" {
			return usageErrorf("%s takes no argument", cmd.name)
		}
		return usageErrorf("%s needs exactly one %s", cmd.name, cmd.arg)
	}
	if cmd.arg == "KEY" {
		if !validKey(pos[1]) {
			return usageErrorf("%s: %q is not a store key (64 hex characters, as list prints them)", cmd.name, pos[1])
		}
		pos[1] = strings.ToLower(pos[1])
	}
	if cmd.arg == "OWNER" && pos[1] == "" {
		return usageErrorf("%s: the owner must not be empty", cmd.name)
	}
	if _, err := codec.ByName(opts.codec); err != nil {
		return usageErrorf("-codec: %v", err)
	}
	if opts.timeout < 0 {
		return usageErrorf("-timeout must not be negative")
	}
	if opts.store == "" {
		opts.store = os.Getenv(envStore)
	}
	if opts.store == "" {
		return usageErrorf("no store: give -store URL or set $%s", envStore)
	}
	if s := schemeOf(opts.store); s == "mem" || s == "memory" {
		return usageErrorf("a mem: store lives inside its own process; sessionctl cannot reach it")
	}
	return nil
}

// validKey reports whether key looks like a store key (see
// httpsession.StoreKey): 64 hex characters.
func validKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for _, c := range []byte(key) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// schemeOf returns the lowercase scheme of a store URL: "bolt", "redis".
func schemeOf(url string) string {
	scheme, _, _ := strings.Cut(url, ":")
	return strings.ToLower(scheme)
}

// app is what a command works with.
type app struct {
	m         *httpsession.Manager
	store     httpsession.Store
	codec     codec.Codec
	codecName string
	kind      string // the URL's scheme, for messages
	json      bool
	progress  bool // show a spinner on stderr during scans
	stdout    io.Writer
	stderr    io.Writer
	close     func() error
}

// start opens the store and a Manager on it.
func start(ctx context.Context, opts options, stdout, stderr io.Writer) (*app, error) {
	if err := checkExists(opts.store); err != nil {
		return nil, err
	}
	store, closeStore, err := open.Open(ctx, opts.store)
	if err != nil {
		return nil, err
	}
	c, _ := codec.ByName(opts.codec) // checked by check
	m, err := httpsession.New(httpsession.Config{Store: store, Codec: c, CleanupInterval: -1})
	if err != nil {
		closeStore()
		return nil, err
	}
	return &app{
		m: m, store: store, codec: c, codecName: opts.codec, kind: schemeOf(opts.store),
		json: opts.json, progress: !opts.json && isTerminal(stderr),
		stdout: stdout, stderr: stderr,
		close: func() error {
			m.Close()
			return closeStore()
		},
	}, nil
}

// checkExists refuses a file store that does not exist yet: store/open
// would create an empty one, and a mistyped path would then look like a
// store without sessions.
func checkExists(url string) error {
	scheme, path, _ := strings.Cut(url, ":")
	switch strings.ToLower(scheme) {
	case "bolt", "bbolt", "sqlite", "sqlite3", "file":
	default:
		return nil
	}
	if path == "" {
		return nil // store/open explains what is missing
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: %w (sessionctl opens existing stores only)", url, err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// cliError is an error with its own exit code.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &cliError{exitUsage, fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the exit code it stands for.
func exitCode(err error) int {
	var ce *cliError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, httpsession.ErrNotSupported):
		return exitUnsupported
	case errors.Is(err, httpsession.ErrNotFound):
		return exitNotFound
	}
	return exitError
}

// report writes err as one line to stderr and returns its exit code.
func report(stderr io.Writer, err error) int {
	code := exitCode(err)
	msg := oneLine(err.Error())
	if code == exitUsage {
		msg += " (sessionctl -h for help)"
	}
	fmt.Fprintf(stderr, "sessionctl: %s\n", msg)
	return code
}

// oneLine folds a message that a driver spread over lines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "Usage: sessionctl [-store URL] [-codec gob|json|cbor] [-json] [-timeout 30s] COMMAND [ARG]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-20s %s\n", strings.TrimSpace(c.name+" "+c.arg), c.help)
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, `
Store URLs: bolt:PATH, sqlite:PATH, file:DIR, redis://HOST:PORT[/DB],
redis+cluster://HOST:PORT,..., memcache://HOST:PORT,..., postgres://...,
mysql://USER:PASS@tcp(HOST:PORT)/DB.

Exit codes: 0 success, 1 error, 2 usage error, 3 not supported by the store,
4 not found.
`)
}
