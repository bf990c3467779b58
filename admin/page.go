package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/metrics"
)

// pageStyle is the page's only stylesheet. The Content-Security-Policy
// allows it by its hash, so the page needs neither 'unsafe-inline' nor a
// nonce, and runs no script at all.
const pageStyle = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}` +
	`table{border-collapse:collapse;margin-top:1em}` +
	`th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}` +
	`td.ua{max-width:28em;overflow-wrap:anywhere}form{display:inline}` +
	`.note{color:#666}.msg{background:#efe;padding:.4em}.err{background:#fee;padding:.4em}`

var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// pageTemplate is html/template, so every owner, user agent and IP is
// escaped for the context it lands in (text, attribute or URL).
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"when":      when,
	"shortKey":  shortKey,
	"ownerPath": ownerPath,
	"plural":    plural,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sessions</title><style>` + pageStyle + `</style></head>
<body>
<h1>{{if .Owner}}Sessions of {{.Owner}}{{else}}Sessions{{end}}</h1>
<form method="get" action="{{.Prefix}}/"><label>Owner <input name="owner" value="{{.Owner}}" maxlength="1024"></label> <button>Search</button></form>
{{- if .Owner}} <a href="{{.Prefix}}/">All sessions</a>{{end}}
{{with .Message}}<p class="msg">{{.}}</p>{{end}}
{{with .Error}}<p class="err">{{.}}</p>{{end}}
<p class="note">{{if .HasLive}}{{if .LiveCapped}}{{.Live}}+ live sessions{{else}}{{plural .Live "live session"}}{{end}}. {{end}}Since start: {{plural .Stats.Loads "load"}}, {{plural .Stats.Saves "save"}}, {{.Stats.Created}} created, {{.Stats.Destroyed}} destroyed, {{.Stats.Expired}} expired. Times are UTC.</p>
{{if and .Owner .Sessions}}{{with ownerPath .Owner}}<form method="post" action="{{$.Prefix}}/owners/{{.}}/delete"><button>Sign out everywhere</button></form>{{end}}{{end}}
{{if .Sessions}}<table>
<thead><tr><th>Owner</th><th>Created</th><th>Last seen</th><th>Expires</th><th>User agent</th><th>IP</th><th>Size</th><th>Key</th><th></th></tr></thead>
<tbody>
{{range .Sessions}}<tr>
<td>{{with .Owner}}<a href="{{$.Prefix}}/?owner={{.}}">{{.}}</a>{{else}}<span class="note">none</span>{{end}}</td>
<td>{{when .Created}}</td><td>{{when .LastSeen}}</td><td>{{when .Expires}}</td>
<td class="ua">{{.UserAgent}}</td><td>{{.IP}}</td><td>{{.Size}} B</td>
<td><a href="{{$.Prefix}}/sessions/{{.Key}}" title="{{.Key}}"><code>{{shortKey .Key}}</code></a></td>
<td><form method="post" action="{{$.Prefix}}/sessions/{{.Key}}/delete">{{if $.Owner}}<input type="hidden" name="owner" value="{{$.Owner}}">{{end}}<button>Delete</button></form></td>
</tr>
{{end}}</tbody></table>
{{if .Truncated}}<p class="note">Showing {{len .Sessions}} sessions; there are more. Search by owner, or raise ?limit= (at most 1000).</p>{{end}}
{{else if not .Error}}<p>No sessions.</p>{{end}}
</body></html>
`))

// pageData is what the page shows.
type pageData struct {
	Prefix     string
	Owner      string // the owner searched for, or ""
	Sessions   []httpsession.SessionInfo
	Truncated  bool
	Message    string
	Error      string
	Stats      metrics.Stats
	HasLive    bool // the store can count its sessions
	Live       uint64
	LiveCapped bool
}

// page is GET /: the sessions, or those of ?owner=, with delete buttons.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	if !methods(w, r, http.MethodGet) {
		return
	}
	n, ok := limit(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := pageData{Prefix: h.prefix, Owner: q.Get("owner"), Stats: h.m.Stats()}
	if len(data.Owner) > maxOwnerLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("an owner is 1 to %d bytes", maxOwnerLen))
		return
	}
	// Only a number is taken from the query for the message, so a link
	// cannot put words in the page.
	if d, err := strconv.Atoi(q.Get("deleted")); err == nil && d >= 0 {
		data.Message = "Deleted " + plural(uint64(d), "session") + "."
	}
	ctx, cancel := h.context(r)
	defer cancel()
	var list sessionList
	var err error
	if data.Owner != "" {
		list, err = h.sessionsOf(ctx, data.Owner, n)
	} else {
		list, err = h.list(ctx, n)
	}
	status := http.StatusOK
	if err != nil {
		status, data.Error = h.problem(r, err)
	}
	data.Sessions, data.Truncated = list.Sessions, list.Truncated
	if err == nil {
		live, capped, err := h.countLive(ctx)
		if err == nil {
			data.HasLive, data.Live, data.LiveCapped = true, uint64(live), capped
		} else if !errors.Is(err, httpsession.ErrNotSupported) {
			status, data.Error = h.problem(r, err)
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		h.log.ErrorContext(r.Context(), "httpsession/admin: rendering the page", "err", err)
		writeError(w, http.StatusInternalServerError, "the page could not be rendered")
		return
	}
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// when formats a time for the page.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// shortKey is the first 12 characters of a key, enough to tell sessions
// apart on the page; the link and the tooltip carry the whole key.
func shortKey(key string) string {
	return key[:min(len(key), 12)]
}

// plural is "1 noun" or "n nouns".
func plural(n uint64, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// ownerPath is owner escaped as one path segment, or "" for "." and "..",
// which a browser would resolve as a path step instead of sending.
func ownerPath(owner string) string {
	if owner == "." || owner == ".." {
		return ""
	}
	return url.PathEscape(owner)
}
