// Command example is a small web app on httpsession: a visit counter, a
// login form that accepts any user name, a cart, flash messages, and plain
// text API routes for scripts.
//
//	go run ./example -store bolt:sessions.db
//
// Store URLs are those of store/open: mem:, file:DIR, bolt:PATH and the
// networked stores. Run it with -help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/open"
)

// envAdminPassword names the environment variable that holds the admin
// password when -admin-password is not given. An environment variable
// keeps the password out of the process list, where any local user can
// read a command line.
const envAdminPassword = "HTTPSESSION_ADMIN_PASSWORD"

// options are the example's settings, from its flags.
type options struct {
	addr          string
	storeURL      string
	idle          time.Duration
	lifetime      time.Duration
	remember      time.Duration // lifetime of a "remember me" login; 0: defaultRemember
	secure        bool
	adminPassword string
	// sessionRate is how many new sessions one client may start a
	// minute; 0 means no limit.
	sessionRate int
}

func main() {
	o, err := parseFlags(os.Args[0], os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag package has printed the error and the usage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, slog.Default())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// parseFlags reads the options from the command line args, and the admin
// password from the environment (through getenv) when no flag gives it.
// Usage and errors go to out.
func parseFlags(name string, args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.storeURL, "store", "bolt:sessions.db", "session store URL (mem:, file:DIR, bolt:PATH, ...)")
	fs.DurationVar(&o.idle, "idle", 30*time.Minute, "idle timeout (0 for none)")
	fs.DurationVar(&o.lifetime, "lifetime", 12*time.Hour, "absolute session lifetime")
	fs.DurationVar(&o.remember, "remember", defaultRemember, "lifetime of a \"remember me\" login, which gets a persistent cookie")
	fs.BoolVar(&o.secure, "secure", false, "serve the session cookie Secure and named __Host-session (use behind HTTPS)")
	// The default is not the environment's value: -help prints defaults.
	fs.StringVar(&o.adminPassword, "admin-password", "",
		"mount the admin page at /admin/ for user \"admin\" with this `password`; without the flag\n"+
			"the password comes from $"+envAdminPassword+", which keeps it out of the process list\n"+
			"(neither set: no admin page)")
	fs.IntVar(&o.sessionRate, "session-rate", 0,
		"let one client address (an IPv6 /64) start at most `n` new sessions a minute; a request\n"+
			"that would store one more gets 429 (default 0: no limit, for load tests)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if o.sessionRate < 0 {
		err := fmt.Errorf("-session-rate %d: want 0 (no limit) or more", o.sessionRate)
		fmt.Fprintln(out, err)
		return options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(out, err)
		fs.Usage()
		return options{}, err
	}
	if o.adminPassword == "" {
		o.adminPassword = getenv(envAdminPassword)
	}
	return o, nil
}

// managerConfig is the session configuration of the example.
func managerConfig(store httpsession.Store, o options) httpsession.Config {
	c := httpsession.Config{
		Store:       store,
		IdleTimeout: o.idle,
		Lifetime:    o.lifetime,
		Client:      httpsession.Client{Record: true},
	}
	if o.secure {
		// The __Host- prefix makes browsers insist on Secure, Path=/ and
		// no Domain, so a sibling subdomain can neither set nor shadow
		// the cookie.
		c.Transport = &httpsession.Cookie{Name: "__Host-session", Secure: true}
	}
	if o.sessionRate > 0 {
		c.AllowCreate = newCreationLimiter(o.sessionRate, nil).allowCreate
	}
	return c
}

// run serves the example until ctx is done. Log lines go to log; the store
// URL appears in them with its password masked.
func run(ctx context.Context, o options, log *slog.Logger) error {
	store, closeStore, err := open.Open(ctx, o.storeURL)
	if err != nil {
		return err
	}
	defer closeStore()

	m, err := httpsession.New(managerConfig(store, o))
	if err != nil {
		return err
	}
	defer m.Close()

	h, err := app(m, o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Every route takes its input from the URL or a small form; a
		// long request line gets 431 before any handler runs.
		MaxHeaderBytes: 64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("example listening", "url", "http://"+ln.Addr().String()+"/", "store", open.Redact(o.storeURL),
		"admin", o.adminPassword != "", "session_rate", o.sessionRate)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultRemember is the lifetime of a "remember me" login.
const defaultRemember = 30 * 24 * time.Hour

// routes returns the app's session routes, without the middleware. A
// "remember me" login lasts remember.
func routes(remember time.Duration) http.Handler {
	if remember <= 0 {
		remember = defaultRemember
	}
	signIn := func(r *http.Request, user string) {
		s := httpsession.SessionFrom(r.Context())
		// A new token, so that a token planted before login is
		// worthless; the owner for "sign out everywhere"; then the data.
		s.Renew()
		s.SetOwner(user)
		s.Set("user", user)
		// Remember me: the session's own lifetime and a persistent
		// cookie; otherwise the cookie ends with the browser session.
		if r.FormValue("remember") == "1" {
			s.SetLifetime(remember, true)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { login(w, r, signIn) })
	mux.HandleFunc("POST /logout", logout)
	mux.HandleFunc("POST /cart", addToCart)

	mux.HandleFunc("POST /api/put", apiPut)
	mux.HandleFunc("GET /api/get", apiGet)
	mux.HandleFunc("POST /api/count", apiCount)
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) { apiLogin(w, r, signIn) })
	mux.HandleFunc("POST /api/logout", apiLogout)
	return mux
}

// Bounds on what a client can make the example store. Without them one
// visitor could fill a session up to Config.MaxSize (1 MiB) and the store
// with as many such sessions as it sends requests.
const (
	// maxPutBytes bounds the key and value of one /api/put.
	maxPutBytes = 4 << 10
	// maxKeys bounds the keys of one session (/api/put refuses a new key
	// beyond it).
	maxKeys = 16
)

func apiPut(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, value := q.Get("key"), q.Get("value")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return
	}
	if len(key)+len(value) > maxPutBytes {
		http.Error(w, fmt.Sprintf("key and value are %d bytes; this demo keeps at most %d", len(key)+len(value), maxPutBytes), http.StatusRequestEntityTooLarge)
		return
	}
	s := httpsession.SessionFrom(r.Context())
	if !s.Has(key) && len(s.Keys()) >= maxKeys {
		http.Error(w, fmt.Sprintf("this demo keeps at most %d keys in a session", maxKeys), http.StatusRequestEntityTooLarge)
		return
	}
	s.Set(key, value)
	writeText(w, "ok\n")
}

// apiGet answers the value as plain text, which a browser never renders
// as a page: a value holding HTML and scripts stays text.
func apiGet(w http.ResponseWriter, r *http.Request) {
	v := httpsession.SessionFrom(r.Context()).Get(r.URL.Query().Get("key"))
	if v == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	writeText(w, fmt.Sprintf("%v\n", v))
}

// writeText answers text/plain. The app sends X-Content-Type-Options:
// nosniff with every response (see app), so no browser takes it for HTML.
func writeText(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, text)
}

func apiCount(w http.ResponseWriter, r *http.Request) {
	writeText(w, fmt.Sprintf("%d\n", httpsession.SessionFrom(r.Context()).Incr("n", 1)))
}

// apiLogin signs in ?user=U, remembered with &remember=1.
func apiLogin(w http.ResponseWriter, r *http.Request, signIn func(*http.Request, string)) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "missing user", http.StatusBadRequest)
		return
	}
	signIn(r, user)
	writeText(w, "ok\n")
}

func apiLogout(w http.ResponseWriter, r *http.Request) {
	httpsession.SessionFrom(r.Context()).Destroy()
	writeText(w, "ok\n")
}
