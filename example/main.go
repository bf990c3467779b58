// Command example is a small web app on httpsession: a visit counter, a
// login form that accepts any user name, a cart, flash messages, and plain
// text API routes for scripts.
//
//	go run ./example -store bolt:sessions.db
//
// Store URLs are those of store/open: mem:, file:DIR, bolt:PATH and the
// networked stores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/open"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	storeURL := flag.String("store", "bolt:sessions.db", "session store URL (mem:, file:DIR, bolt:PATH, ...)")
	idle := flag.Duration("idle", 30*time.Minute, "idle timeout (0 for none)")
	lifetime := flag.Duration("lifetime", 12*time.Hour, "absolute session lifetime")
	secure := flag.Bool("secure", false, "mark the session cookie Secure (use behind HTTPS)")
	adminPassword := flag.String("admin-password", os.Getenv("HTTPSESSION_ADMIN_PASSWORD"), "mount the admin page at /admin/ for user \"admin\" with this password (default $HTTPSESSION_ADMIN_PASSWORD; empty: no admin page)")
	flag.Parse()

	if err := run(*addr, *storeURL, *idle, *lifetime, *secure, *adminPassword); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(addr, storeURL string, idle, lifetime time.Duration, secure bool, adminPassword string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closeStore, err := open.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer closeStore()

	m, err := httpsession.New(httpsession.Config{
		Store:        store,
		IdleTimeout:  idle,
		Lifetime:     lifetime,
		Cookie:       httpsession.Cookie{Secure: secure},
		RecordClient: true,
	})
	if err != nil {
		return err
	}
	defer m.Close()

	h, err := app(m, adminPassword)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("example listening", "url", "http://"+addr+"/", "store", storeURL, "admin", adminPassword != "")
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

// routes returns the app's session routes, without the middleware.
func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /logout", logout)
	mux.HandleFunc("POST /cart", addToCart)

	mux.HandleFunc("POST /api/put", apiPut)
	mux.HandleFunc("GET /api/get", apiGet)
	mux.HandleFunc("POST /api/count", apiCount)
	mux.HandleFunc("POST /api/login", apiLogin)
	mux.HandleFunc("POST /api/logout", apiLogout)
	return mux
}

func apiPut(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return
	}
	httpsession.SessionFrom(r.Context()).Set(key, r.URL.Query().Get("value"))
	io.WriteString(w, "ok\n")
}

func apiGet(w http.ResponseWriter, r *http.Request) {
	v := httpsession.SessionFrom(r.Context()).Get(r.URL.Query().Get("key"))
	if v == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	fmt.Fprintf(w, "%v\n", v)
}

func apiCount(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%d\n", httpsession.SessionFrom(r.Context()).Incr("n", 1))
}

func apiLogin(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "missing user", http.StatusBadRequest)
		return
	}
	signIn(httpsession.SessionFrom(r.Context()), user)
	io.WriteString(w, "ok\n")
}

func apiLogout(w http.ResponseWriter, r *http.Request) {
	httpsession.SessionFrom(r.Context()).Destroy()
	io.WriteString(w, "ok\n")
}

// signIn is what every login does: a new token (so a token planted before
// login is worthless), the owner for "sign out everywhere", then the data.
func signIn(s *httpsession.Session, user string) {
	s.Renew()
	s.SetOwner(user)
	s.Set("user", user)
}
