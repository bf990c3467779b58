package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/httpsession/httpsession"
)

// maxAgentWidth cuts user agents in tables; show prints them whole.
const maxAgentWidth = 50

// writeTable writes sessions as an aligned table, oldest first, or the
// line empty when there are none.
func writeTable(w io.Writer, sessions []httpsession.SessionInfo, empty string) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(w, empty)
		return err
	}
	sortByCreated(sessions)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tOWNER\tCREATED\tLAST SEEN\tEXPIRES\tSIZE\tUSER AGENT\tIP")
	for _, s := range sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
			s.Key, cell(s.Owner), timeCell(s.Created), timeCell(s.LastSeen), timeCell(s.Expires),
			s.Size, cell(truncate(s.UserAgent, maxAgentWidth)), cell(s.IP))
	}
	return tw.Flush()
}

// writeSession writes one session and its values for a reader.
func writeSession(w io.Writer, s httpsession.SessionInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fields := [][2]string{
		{"key", s.Key},
		{"owner", cell(s.Owner)},
		{"created", timeCell(s.Created)},
		{"last seen", timeCell(s.LastSeen)},
		{"expires", timeCell(s.Expires)},
		{"deadline", timeCell(s.Deadline)},
		{"size", fmt.Sprintf("%d bytes", s.Size)},
		{"user agent", cell(s.UserAgent)},
		{"ip", cell(s.IP)},
		{"values", strconv.Itoa(len(s.Values))},
	}
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeValues(w, s.Values)
}

// writeValues writes values sorted by name, one per line as NAME TYPE
// VALUE; a map or slice value is indented JSON whose further lines stay in
// the value column.
func writeValues(w io.Writer, values map[string]any) error {
	names := slices.Sorted(maps.Keys(values))
	nameW, typeW := 0, 0
	for _, name := range names {
		nameW = max(nameW, utf8.RuneCountInString(printable(name)))
		typeW = max(typeW, len(typeName(values[name])))
	}
	var b strings.Builder
	for _, name := range names {
		v := values[name]
		head := fmt.Sprintf("  %-*s  %-*s  ", nameW, printable(name), typeW, typeName(v))
		indent := "\n" + strings.Repeat(" ", utf8.RuneCountInString(head))
		b.WriteString(head)
		b.WriteString(strings.ReplaceAll(formatValue(v), "\n", indent))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return strings.ReplaceAll(fmt.Sprintf("%T", v), "interface {}", "any")
}

// formatValue renders one session value. Strings are quoted, so no value
// can move the cursor or recolour the operator's terminal.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(v)
	case []byte:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(v)
	}
	if b, err := json.MarshalIndent(v, "", "  "); err == nil {
		return string(b)
	}
	return fmt.Sprintf("%#v", v)
}

// writeStats writes the result of stats for a reader.
func writeStats(w io.Writer, st storeStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sessions\t%d\n", st.Sessions)
	fmt.Fprintf(tw, "total size\t%d bytes\n", st.TotalBytes)
	fmt.Fprintf(tw, "average size\t%d bytes\n", st.AverageBytes)
	fmt.Fprintf(tw, "owners\t%d\n", st.Owners)
	fmt.Fprintf(tw, "without owner\t%d\n", st.WithoutOwner)
	oldest := "-"
	if !st.OldestCreated.IsZero() {
		age := time.Since(st.OldestCreated).Round(time.Second)
		oldest = fmt.Sprintf("%s (%v ago)", timeCell(st.OldestCreated), age)
	}
	fmt.Fprintf(tw, "oldest created\t%s\n", oldest)
	return tw.Flush()
}

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeJSONIndent(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonSafe replaces the values that encoding/json refuses (a NaN, a map
// with struct keys) with their Go syntax, so one odd value does not hide
// the session.
func jsonSafe(s httpsession.SessionInfo) httpsession.SessionInfo {
	values := make(map[string]any, len(s.Values))
	for k, v := range s.Values {
		if _, err := json.Marshal(v); err != nil {
			v = fmt.Sprintf("%#v", v)
		}
		values[k] = v
	}
	s.Values = values
	return s
}

// timeCell formats a time for a table: UTC to the second.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// cell makes s safe for a table cell: "-" when empty, quoted when it holds
// anything but printable characters (tabs, newlines, escape sequences).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

func printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
