package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/metrics"
	"github.com/httpsession/httpsession/sessions"
)

// sessionList is the body of GET /sessions and GET /owners/{owner}.
type sessionList struct {
	Sessions  []httpsession.SessionInfo `json:"sessions"`
	Truncated bool                      `json:"truncated"`
}

// statsBody is the body of GET /stats.
type statsBody struct {
	metrics.Stats
	// Live is the number of live sessions, absent for a store that cannot
	// list; LiveCapped says the count stopped at liveCountCap.
	Live       *int `json:"live,omitempty"`
	LiveCapped bool `json:"live_capped,omitempty"`
}

// destroyedBody is the body of a DELETE.
type destroyedBody struct {
	Destroyed int `json:"destroyed"`
}

func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodGet) {
		return
	}
	n, ok := limit(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	list, err := h.list(ctx, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) session(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodGet, http.MethodDelete) {
		return
	}
	key, ok := pathKey(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	if r.Method == http.MethodDelete {
		if err := h.destroyKey(ctx, r, key); err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, destroyedBody{1})
		return
	}
	info, err := sessions.Inspect(ctx, h.m, key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := json.Marshal(info.Values); err != nil {
		info.Values = representable(info.Values)
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *handler) owner(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodGet, http.MethodDelete) {
		return
	}
	owner, ok := pathOwner(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	if r.Method == http.MethodDelete {
		n, err := h.destroyOwner(ctx, r, owner)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, destroyedBody{n})
		return
	}
	n, ok := limit(w, r)
	if !ok {
		return
	}
	list, err := h.sessionsOf(ctx, owner, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodGet) {
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	body := statsBody{Stats: h.m.Stats()}
	live, capped, err := h.countLive(ctx)
	switch {
	case errors.Is(err, httpsession.ErrNotSupported):
	case err != nil:
		h.fail(w, r, err)
		return
	default:
		body.Live, body.LiveCapped = &live, capped
	}
	writeJSON(w, http.StatusOK, body)
}

// sessionForm is the delete button of the HTML page: a POST, because a
// form cannot send DELETE. It answers with a redirect back to the page.
func (h *handler) sessionForm(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodPost) {
		return
	}
	key, ok := pathKey(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "malformed form")
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	if err := h.destroyKey(ctx, r, key); err != nil {
		h.fail(w, r, err)
		return
	}
	q := url.Values{"deleted": {"1"}}
	// The page the button was on: the owner's view or the full list.
	if owner := r.PostForm.Get("owner"); owner != "" && len(owner) <= maxOwnerLen {
		q.Set("owner", owner)
	}
	h.seeOther(w, q)
}

// ownerForm is the "sign out everywhere" button of the HTML page.
func (h *handler) ownerForm(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodPost) {
		return
	}
	owner, ok := pathOwner(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.context(r)
	defer cancel()
	n, err := h.destroyOwner(ctx, r, owner)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.seeOther(w, url.Values{"owner": {owner}, "deleted": {strconv.Itoa(n)}})
}

// seeOther sends the browser back to the page after a form post. The
// Location is built from the configured prefix alone, never from the
// request, so it cannot point off the site.
func (h *handler) seeOther(w http.ResponseWriter, q url.Values) {
	w.Header().Set("Location", h.pageURL(q))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusSeeOther)
}

// list returns up to n live sessions without their values, most recently
// active first.
func (h *handler) list(ctx context.Context, n int) (sessionList, error) {
	out := sessionList{Sessions: []httpsession.SessionInfo{}}
	err := sessions.Iterate(ctx, h.m, func(info httpsession.SessionInfo) bool {
		if len(out.Sessions) == n {
			out.Truncated = true
			return false
		}
		info.Values = nil
		out.Sessions = append(out.Sessions, info)
		return true
	})
	sortSessions(out.Sessions)
	return out, err
}

// sessionsOf returns up to n sessions of owner without their values, most
// recently active first.
func (h *handler) sessionsOf(ctx context.Context, owner string, n int) (sessionList, error) {
	all, err := sessions.Of(ctx, h.m, owner)
	if err != nil {
		return sessionList{}, err
	}
	for i := range all {
		all[i].Values = nil
	}
	sortSessions(all)
	out := sessionList{Sessions: all, Truncated: len(all) > n}
	if out.Truncated {
		out.Sessions = all[:n]
	}
	if out.Sessions == nil {
		out.Sessions = []httpsession.SessionInfo{}
	}
	return out, nil
}

// countLive counts live sessions, stopping at liveCountCap.
func (h *handler) countLive(ctx context.Context) (n int, capped bool, err error) {
	err = sessions.Iterate(ctx, h.m, func(httpsession.SessionInfo) bool {
		if n == liveCountCap {
			capped = true
			return false
		}
		n++
		return true
	})
	return n, capped, err
}

// destroyKey deletes the session under key, or reports ErrNotFound for a
// missing one, so that an operator's typo does not pass for a success.
func (h *handler) destroyKey(ctx context.Context, r *http.Request, key string) error {
	info, err := sessions.Inspect(ctx, h.m, key)
	if err != nil {
		return err
	}
	if err := sessions.Destroy(ctx, h.m, key); err != nil {
		return err
	}
	h.log.InfoContext(ctx, "httpsession/admin: session deleted",
		"key", key, "owner", info.Owner, "remote", r.RemoteAddr)
	return nil
}

// destroyOwner ends every session of owner.
func (h *handler) destroyOwner(ctx context.Context, r *http.Request, owner string) (int, error) {
	n, err := sessions.DestroyOwner(ctx, h.m, owner, nil)
	if n > 0 || err != nil {
		h.log.InfoContext(ctx, "httpsession/admin: sessions of an owner deleted",
			"owner", owner, "count", n, "err", err, "remote", r.RemoteAddr)
	}
	return n, err
}

// sortSessions orders sessions by last activity, newest first.
func sortSessions(s []httpsession.SessionInfo) {
	slices.SortFunc(s, func(a, b httpsession.SessionInfo) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return b.Created.Compare(a.Created)
	})
}

// representable replaces each value JSON cannot encode (a complex number,
// a NaN) with its Go type and text, so one odd value does not hide the
// session.
func representable(values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		if _, err := json.Marshal(v); err != nil {
			v = map[string]string{"go_type": fmt.Sprintf("%T", v), "text": fmt.Sprint(v)}
		}
		out[k] = v
	}
	return out
}

// fail answers a failed store call.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := h.problem(r, err)
	writeError(w, status, msg)
}

// problem maps a failed store call to a status and a message. Store
// failures are logged and described without their details, which may name
// servers and addresses.
func (h *handler) problem(r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, httpsession.ErrNotFound):
		return http.StatusNotFound, "session not found"
	case errors.Is(err, httpsession.ErrNotSupported):
		return http.StatusNotImplemented, err.Error() + " (httpsession.ErrNotSupported)"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "the session store timed out"
	case errors.Is(err, httpsession.ErrUnavailable):
		h.log.WarnContext(r.Context(), "httpsession/admin: store unavailable", "path", r.URL.Path, "err", err)
		return http.StatusServiceUnavailable, "the session store is unavailable; try again later"
	default:
		h.log.ErrorContext(r.Context(), "httpsession/admin: store failure", "path", r.URL.Path, "err", err)
		return http.StatusInternalServerError, "session store failure; see the server log"
	}
}

// writeJSON answers with v as JSON. encoding/json escapes <, > and &, so
// no body can be read as HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"the response could not be encoded as JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// writeError answers with {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
