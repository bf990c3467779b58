package httpsession

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/internal/janitor"
	"github.com/httpsession/httpsession/metrics"
	"github.com/httpsession/httpsession/transport"
)

// Config configures a Manager. The zero value of every field except Store
// is a safe default.
type Config struct {
	// Store keeps the sessions. It is required.
	Store Store
	// Codec encodes session state. The default is codec.Gob.
	Codec codec.Codec
	// Lifetime is the absolute lifetime of a session from its creation (or
	// its last Renew); activity never extends it. Session.SetLifetime
	// sets another per session. The default is 24 hours.
	Lifetime time.Duration
	// IdleTimeout ends a session that saw no request for this long. The
	// default, 0, means no idle timeout. OWASP suggests 15 to 30 minutes
	// for low-risk applications and 2 to 5 minutes for high-value ones.
	IdleTimeout time.Duration
	// TouchInterval is how often a request that changes nothing may slide
	// the idle expiry in the store. The default is a tenth of IdleTimeout.
	TouchInterval time.Duration
	// RenewGrace is how long, after Session.Renew, a request that still
	// carries the old token (another tab, a request sent before the login
	// finished) gets a session with Status StatusInterrupted: no data, no
	// saves and no token, so it cannot log its own user out. A marker
	// record under the old key, holding nothing, expires with the window;
	// afterwards the old token is unknown. The default is 30 seconds; a
	// negative value turns it off.
	RenewGrace time.Duration
	// Transport carries tokens. The default is a *Cookie with its
	// defaults; package transport has the others and the interface.
	Transport transport.Transport
	// MaxSize is the largest encoded session in bytes; a save over it fails
	// with ErrTooLarge. The default is 1 MiB; a negative value means no
	// limit beyond the store's own.
	MaxSize int
	// StoreTimeout bounds every store call of a request's load and of its
	// save. The default is 5 seconds.
	StoreTimeout time.Duration
	// CleanupInterval is how often the Manager deletes expired records from
	// a store that implements Cleaner (stores without native expiry). The
	// default is 5 minutes; a negative value disables the janitor.
	CleanupInterval time.Duration
	// Client says what is recorded of the client that creates a session
	// and whether later requests must come from the same client.
	Client Client
	// AllowCreate, when set, is asked before a new session is first saved
	// in a request; an error refuses the session and goes to the
	// ErrorHandler (the default answers 429 to one wrapping
	// ErrTooManySessions). Use it to rate-limit session creation per
	// client. Sessions that already exist, renewed ones included, are not
	// asked about.
	AllowCreate func(r *http.Request) error
	// Hooks are called on session lifecycle events, for audit logs.
	Hooks Hooks
	// ErrorHandler answers a request whose session could not be loaded or
	// saved. The default logs the error and answers 503 with Retry-After
	// for ErrUnavailable, 429 with Retry-After for ErrTooManySessions and
	// 500 for anything else.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives the Manager's log lines; it never sees a raw token.
	// The default is slog.Default().
	Logger *slog.Logger
	// Now is the clock. The default is time.Now; tests set a fake one.
	Now func() time.Time
	// NewToken generates tokens. The default draws 32 bytes from
	// crypto/rand. A replacement must draw from crypto/rand too and return
	// 22 to 128 base64url characters.
	NewToken func() (string, error)
}

// Client configures what a Manager records of the client that creates a
// session and whether later requests must come from it.
type Client struct {
	// Record keeps the User-Agent and IP address of the request that
	// creates a session, for "your devices" pages.
	Record bool
	// BindIP ends a session when a request comes from another IP address
	// than the one that created it, and BindUserAgent when it comes with
	// another User-Agent (Catalyst's verify_address and verify_user_agent).
	// Both are off by default: mobile clients change addresses, and
	// clients behind a NAT share one. Either records the client, as Record.
	BindIP, BindUserAgent bool
	// IP returns the client address of a request. The default is the host
	// part of r.RemoteAddr; behind a reverse proxy, supply one that trusts
	// forwarded headers from that proxy only.
	IP func(r *http.Request) string
}

// Manager loads and saves sessions around HTTP handlers. Create it with New.
// A Manager is safe for concurrent use.
type Manager struct {
	cfg       Config
	transport transport.Transport
	vary      string
	persist   bool // the transport's default cookie kind
	sleep     func(ctx context.Context, d time.Duration) error
	janitor   *janitor.Janitor // nil without a Cleaner store
	stats     metrics.Counters
}

// New checks cfg, fills in its defaults and returns a Manager. When the
// store implements Cleaner, New starts a janitor goroutine that Close stops;
// it ends by itself if the store answers ErrNotSupported.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpsession: Config.Store is required")
	}
	if cfg.Lifetime < 0 || cfg.IdleTimeout < 0 || cfg.TouchInterval < 0 {
		return nil, errors.New("httpsession: Lifetime, IdleTimeout and TouchInterval must not be negative")
	}
	if cfg.Codec == nil {
		cfg.Codec = codec.Gob{}
	}
	cfg.Lifetime = cmp.Or(cfg.Lifetime, 24*time.Hour)
	cfg.TouchInterval = cmp.Or(cfg.TouchInterval, cfg.IdleTimeout/10)
	cfg.RenewGrace = cmp.Or(cfg.RenewGrace, 30*time.Second)
	cfg.MaxSize = cmp.Or(cfg.MaxSize, 1<<20)
	cfg.CleanupInterval = cmp.Or(cfg.CleanupInterval, 5*time.Minute)
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 5 * time.Second
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = defaultErrorHandler
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client.IP == nil {
		cfg.Client.IP = remoteIP
	}
	cfg.Client.Record = cfg.Client.Record || cfg.Client.BindIP || cfg.Client.BindUserAgent
	m := &Manager{cfg: cfg, transport: cfg.Transport, sleep: sleep}
	if m.transport == nil {
		m.transport = new(Cookie)
	}
	if c, ok := m.transport.(*Cookie); ok {
		p, err := c.prepare(cfg.Now, cfg.NewToken != nil)
		if err != nil {
			return nil, err
		}
		m.transport, m.persist = p, p.Persist
	}
	m.vary = m.transport.Vary()
	if c, ok := cfg.Store.(Cleaner); ok && cfg.CleanupInterval > 0 {
		m.janitor = janitor.Start(c.DeleteExpired, cfg.CleanupInterval, ErrNotSupported, cfg.Logger)
	}
	return m, nil
}

// ErrTooManySessions is for Config.AllowCreate to wrap when it refuses a
// new session because a client creates too many; the default ErrorHandler
// answers 429 Too Many Requests with Retry-After: 60, time enough for a
// limit counted per minute to let the client in again.
var ErrTooManySessions = errors.New("httpsession: too many new sessions")

// The Retry-After seconds of the default ErrorHandler: a store outage is
// often over in seconds; a limit on new sessions is usually per minute.
const retryUnavailable, retryTooMany = "5", "60"

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", retryUnavailable)
		code = http.StatusServiceUnavailable
	case errors.Is(err, ErrTooManySessions):
		w.Header().Set("Retry-After", retryTooMany)
		code = http.StatusTooManyRequests
	}
	http.Error(w, http.StatusText(code), code)
}

// Close stops the janitor. It does not close the store.
func (m *Manager) Close() error {
	if m.janitor != nil {
		m.janitor.Stop()
	}
	return nil
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// lifetimeOr returns d, a session's own lifetime, or the Manager's for 0.
func (m *Manager) lifetimeOr(d time.Duration) time.Duration {
	return cmp.Or(d, m.cfg.Lifetime)
}

func (m *Manager) token() (string, error) {
	if m.cfg.NewToken == nil {
		return newToken(), nil
	}
	t, err := m.cfg.NewToken()
	if err != nil {
		return "", fmt.Errorf("httpsession: generating a token: %w", err)
	}
	if !validToken(t, true) {
		return "", errors.New("httpsession: Config.NewToken returned a token that is not 22 to 128 base64url characters")
	}
	return t, nil
}
