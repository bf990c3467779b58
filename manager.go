package httpsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/httpsession/httpsession/codec"
)

// Config configures a Manager. The zero value of every field except Store
// is a safe default.
type Config struct {
	// Store keeps the sessions. It is required.
	Store Store
	// Codec encodes session state. The default is codec.Gob.
	Codec codec.Codec
	// Lifetime is the absolute lifetime of a session from its creation (or
	// its last Renew); activity never extends it. The default is 24 hours.
	Lifetime time.Duration
	// IdleTimeout ends a session that saw no request for this long. The
	// default, 0, means no idle timeout. OWASP suggests 15 to 30 minutes
	// for low-risk applications and 2 to 5 minutes for high-value ones.
	IdleTimeout time.Duration
	// TouchInterval is how often a request that changes nothing may slide
	// the idle expiry in the store. The default is a tenth of IdleTimeout.
	TouchInterval time.Duration
	// Cookie configures the session cookie of the default transport.
	Cookie Cookie
	// Transport carries tokens. The default is a cookie configured by
	// Cookie and signed with Keys; see HeaderTransport and FormTransport
	// for the alternatives.
	Transport Transport
	// Keys sign (and, with Block keys, encrypt) the session cookie, newest
	// first: the first key signs, every key verifies, so keys can be
	// rotated. The default, none, sends the bare token, which is already
	// unguessable; signing lets forged cookies be refused without a store
	// call.
	Keys []Key
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
	// RecordClient records the User-Agent and IP address of the request
	// that creates a session, for "your devices" pages.
	RecordClient bool
	// BindIP ends a session when a request comes from another IP address
	// than the one that created it, and BindUserAgent when it comes with
	// another User-Agent (Catalyst's verify_address and verify_user_agent).
	// Both are off by default: mobile clients change addresses, and
	// clients behind a NAT share one. Either implies RecordClient.
	BindIP, BindUserAgent bool
	// ClientIP returns the client address of a request for RecordClient
	// and BindIP. The default is the host part of r.RemoteAddr; behind a
	// reverse proxy, supply one that trusts forwarded headers from that
	// proxy only.
	ClientIP func(r *http.Request) string
	// Hooks are called on session lifecycle events, for audit logs.
	Hooks Hooks
	// ErrorHandler answers a request whose session could not be loaded or
	// saved. The default logs the error and answers 503 with Retry-After
	// for ErrUnavailable and 500 for anything else.
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

// Manager loads and saves sessions around HTTP handlers. Create it with New.
// A Manager is safe for concurrent use.
type Manager struct {
	cfg       Config
	transport Transport
	vary      string
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	stats     counters
}

// New checks cfg, fills in its defaults and returns a Manager. When the
// store implements Cleaner, New starts a janitor goroutine that Close stops;
// it ends by itself if the store answers ErrNotSupported.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpsession: Config.Store is required")
	}
	if cfg.Codec == nil {
		cfg.Codec = codec.Gob{}
	}
	if cfg.Lifetime < 0 || cfg.IdleTimeout < 0 || cfg.TouchInterval < 0 {
		return nil, errors.New("httpsession: Lifetime, IdleTimeout and TouchInterval must not be negative")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 24 * time.Hour
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = cfg.IdleTimeout / 10
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = 1 << 20
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 5 * time.Second
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = 5 * time.Minute
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
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteIP
	}
	cfg.RecordClient = cfg.RecordClient || cfg.BindIP || cfg.BindUserAgent
	m := &Manager{cfg: cfg, transport: cfg.Transport}
	if m.transport == nil {
		t, err := newCookieTransport(cfg.Cookie, cfg.Keys, cfg.Lifetime, cfg.Now)
		if err != nil {
			return nil, err
		}
		m.transport = t
		m.cfg.Cookie = t.c
	} else if len(cfg.Keys) > 0 {
		return nil, errors.New("httpsession: Config.Keys sign cookies and need the default cookie transport")
	}
	if v, ok := m.transport.(interface{ vary() string }); ok {
		m.vary = v.vary()
	}
	if c, ok := cfg.Store.(Cleaner); ok && cfg.CleanupInterval > 0 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.janitor(c)
	}
	return m, nil
}

func newCookieTransport(c Cookie, keys []Key, lifetime time.Duration, now func() time.Time) (*cookieTransport, error) {
	if c.Name == "" {
		c.Name = "session"
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		return nil, errors.New("httpsession: SameSite=None cookies must be Secure")
	}
	t := &cookieTransport{c: c, now: now}
	switch {
	case strings.HasPrefix(c.Name, "__Host-"):
		if c.Domain != "" || c.Path != "/" {
			return nil, fmt.Errorf("httpsession: cookie %q: __Host- cookies need Path=/ and no Domain", c.Name)
		}
		t.secure = true
	case strings.HasPrefix(c.Name, "__Secure-"):
		t.secure = true
	}
	for i, k := range keys {
		if len(k.Hash) < 32 {
			return nil, fmt.Errorf("httpsession: Keys[%d].Hash must be at least 32 bytes", i)
		}
		if n := len(k.Block); n != 0 && n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("httpsession: Keys[%d].Block must be 16, 24 or 32 bytes", i)
		}
		sc := securecookie.New(k.Hash, k.Block)
		sc.SetSerializer(securecookie.NopEncoder{})
		// The signature's own age limit backs the server-side deadline.
		sc.MaxAge(int(lifetime / time.Second))
		t.codecs = append(t.codecs, sc)
	}
	return t, nil
}

// retryAfter is the Retry-After the default ErrorHandler sends with a 503.
const retryAfter = "5"

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// Close stops the janitor. It does not close the store.
func (m *Manager) Close() error {
	if m.stop == nil {
		return nil
	}
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

// janitorBatch bounds the records one janitor pass deletes per store call.
const janitorBatch = 1000

func (m *Manager) janitor(c Cleaner) {
	defer close(m.done)
	tick := time.NewTicker(m.cfg.CleanupInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			if !m.clean(c) {
				return
			}
		}
	}
}

// clean deletes expired records in batches until none are left, the pass
// has taken a minute, or Close is called. It reports false when the store
// cannot delete expired records (a wrapper over a store that expires its
// own), and the janitor stops.
func (m *Manager) clean(c Cleaner) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		n, err := c.DeleteExpired(ctx, janitorBatch)
		if errors.Is(err, ErrNotSupported) {
			return false
		}
		if err != nil {
			if ctx.Err() == nil {
				m.cfg.Logger.Warn("httpsession: deleting expired sessions", "err", err)
			}
			return true
		}
		if n < janitorBatch {
			return true
		}
	}
	return true
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

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
