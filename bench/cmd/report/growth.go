package main

import (
	"bufio"
	"fmt"
	"image/color"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// growthStores are the stores of BenchmarkGrowth, in the order of the
// table and the chart, with the names the report gives them.
var growthStores = []struct{ name, title string }{
	{"memstore", "memstore"},
	{"boltstore", "boltstore"},
	{"sqlite", "sqlstore SQLite"},
	{"postgres", "sqlstore PostgreSQL"},
	{"redis", "redisstore"},
}

// bareEngines maps a store of BenchmarkGrowth to the engine of
// BenchmarkBare under it, and bareOps a work to the engine's operation
// that it compares with: W2 (a read) with a lookup, W3 (a write) with an
// update of one record.
var (
	bareEngines = map[string]string{"boltstore": "bolt", "sqlite": "sqlite", "postgres": "postgres"}
	bareOps     = map[string]string{"W2": "get", "W3": "put"}
)

// The targets of issue 13 that the growth benchmarks check.
const (
	growthLimit     = 1.25 // W2 and W3 at the large size over the small one
	engineLimit     = 1.1  // a store's ratio over its bare engine's, where the engine alone grows
	stallLimitUs    = 10_000
	sqliteSweepS    = 60
	sqliteP99Factor = 2
)

// growthKey names one W2 or W3 benchmark of BenchmarkGrowth.
type growthKey struct {
	store, work string
	sessions    int
}

// growth holds the results of growth.sh.
type growth struct {
	config map[string]string
	sizes  []int
	cells  map[growthKey]cell
	// rounds holds ns/op and cpu-ns/op by round, for the ratios of sizes
	// measured next to each other.
	rounds map[growthKey]map[int]map[string]float64
	// bareCells and bareRounds are the same for BenchmarkBare, keyed by
	// engine (store) and operation (work); empty for runs before it.
	bareCells  map[growthKey]cell
	bareRounds map[growthKey]map[int]map[string]float64
	stall      map[string][]map[string]float64 // by kind, one entry per round
	sqlite     []map[string]float64            // one entry per round
	sweepN     int                             // the size the sweeps ran at
	fills      map[string]string               // "store n" -> time to fill
	loads      []float64                       // load-1m of every leaf
}

var fillLine = regexp.MustCompile(`growth_test\.go:\d+: (\w+): (\d+) sessions stored in (\S+)`)

func readGrowth(path string) (*growth, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g := &growth{config: map[string]string{}, cells: map[growthKey]cell{},
		rounds: map[growthKey]map[int]map[string]float64{}, bareCells: map[growthKey]cell{},
		bareRounds: map[growthKey]map[int]map[string]float64{}, stall: map[string][]map[string]float64{}, fills: map[string]string{}}
	// Configuration lines and the logs of the fills; benchfmt misses the
	// configuration lines that no result follows (load-end).
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		line := sc.Text()
		if m := fillLine.FindStringSubmatch(line); m != nil {
			g.fills[m[1]+" "+m[2]] = m[3]
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok && k != "" && !strings.ContainsAny(k, " \t") && !strings.HasPrefix(k, "Benchmark") {
			g.config[k] = strings.TrimSpace(v)
		}
	}
	for f := range strings.SplitSeq(g.config["growth-sizes"], ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			g.sizes = append(g.sizes, n)
		}
	}
	r := benchfmt.NewReader(strings.NewReader(string(raw)), path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		name := gomaxprocsSuffix.ReplaceAllString(string(res.Name.Full()), "")
		kv := keyValues(name)
		vals := map[string]float64{}
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			vals[unit] = val
		}
		if l, ok := vals["load-1m"]; ok {
			g.loads = append(g.loads, l)
		}
		round, _ := strconv.Atoi(kv["round"])
		n, _ := strconv.Atoi(kv["sessions"])
		switch {
		case strings.HasPrefix(name, "Growth/"):
			k := growthKey{kv["store"], kv["work"], n}
			if g.cells[k] == nil {
				g.cells[k] = cell{}
				g.rounds[k] = map[int]map[string]float64{}
			}
			for u, v := range vals {
				g.cells[k][u] = append(g.cells[k][u], v)
			}
			g.rounds[k][round] = vals
		case strings.HasPrefix(name, "Bare/"):
			k := growthKey{kv["engine"], kv["op"], n}
			if g.bareCells[k] == nil {
				g.bareCells[k] = cell{}
				g.bareRounds[k] = map[int]map[string]float64{}
			}
			for u, v := range vals {
				g.bareCells[k][u] = append(g.bareCells[k][u], v)
			}
			g.bareRounds[k][round] = vals
		case strings.HasPrefix(name, "SweepStall/"):
			g.stall[kv["kind"]] = append(g.stall[kv["kind"]], vals)
			g.sweepN = n
		case strings.HasPrefix(name, "SQLiteSweep/"):
			g.sqlite = append(g.sqlite, vals)
			g.sweepN = n
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(g.cells) == 0 {
		return nil, fmt.Errorf("%s: no BenchmarkGrowth results", path)
	}
	if len(g.sizes) < 2 {
		return nil, fmt.Errorf("%s: growth-sizes %q: want two sizes or more", path, g.config["growth-sizes"])
	}
	return g, nil
}

func (g *growth) small() int { return g.sizes[0] }
func (g *growth) large() int { return g.sizes[len(g.sizes)-1] }

// ratio returns the median over the rounds of unit at the large size
// over unit at the small size in the same round (measured next to each
// other), with the smallest and largest of those ratios.
func (g *growth) ratio(store, work, unit string) (med, lo, hi float64, ok bool) {
	return g.ratioOf(g.rounds, store, work, unit)
}

// bareRatio is ratio for the bare engine under store and the operation
// that work compares with.
func (g *growth) bareRatio(store, work, unit string) (med, lo, hi float64, ok bool) {
	return g.ratioOf(g.bareRounds, bareEngines[store], bareOps[work], unit)
}

func (g *growth) ratioOf(rounds map[growthKey]map[int]map[string]float64, store, work, unit string) (med, lo, hi float64, ok bool) {
	small, large := rounds[growthKey{store, work, g.small()}], rounds[growthKey{store, work, g.large()}]
	var rs []float64
	for round, l := range large {
		s, found := small[round]
		if !found || s[unit] == 0 || l[unit] == 0 {
			continue
		}
		rs = append(rs, l[unit]/s[unit])
	}
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	med, _ = cell{"r": rs}.median("r")
	return med, slices.Min(rs), slices.Max(rs), true
}

// medianOf returns the median of unit over entries.
func medianOf(entries []map[string]float64, unit string) (float64, bool) {
	var s []float64
	for _, e := range entries {
		if v, ok := e[unit]; ok {
			s = append(s, v)
		}
	}
	return cell{"v": s}.median("v")
}

// fmtSize writes 1000 as 1k and 1000000 as 1M.
func fmtSize(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return strconv.Itoa(n)
}

func fmtUs(us float64) string { return fmtNs(us * 1e3) }

func (r *report) growthSection() {
	g := r.growth
	r.p("## Growth: cost as sessions grow\n")
	if g == nil {
		r.p("No growth results (run `make bench-growth`).\n")
		return
	}
	small, large := fmtSize(g.small()), fmtSize(g.large())
	r.p("Generated from [%s](%s) (`make bench-growth`, `bench/growth.sh`, `bench/growth_test.go`), run %s with sizes %s: %s interleaved rounds of `-benchtime=%s` each, every store open at both sizes while its rounds alternate between them, so that drift in the machine's load hits both alike. `GROWTH_LARGE=1000000` is the full size; the default, 100,000, keeps `make bench` short.\n",
		r.growthSource, r.growthSource, orDash(g.config["date"]), strings.ReplaceAll(g.config["growth-sizes"], ",", " and "),
		orDash(g.config["growth-rounds"]), orDash(g.config["growth-benchtime"]))
	if len(g.loads) > 0 {
		r.p("Load average (1 minute) as the benchmarks ended: %.1f to %.1f, median %.1f (at the start %s, at the end %s) on %s CPUs.\n",
			slices.Min(g.loads), slices.Max(g.loads), must(cell{"l": g.loads}.median("l")),
			orDash(firstField(g.config["load-start"])), orDash(firstField(g.config["load-end"])), orDash(g.config["cpu-count"]))
		if n, _ := strconv.Atoi(g.config["cpu-count"]); n > 0 && slices.Max(g.loads) > float64(n) {
			r.p("**Noise warning.** Other work shared the machine (load average above its %d CPUs): single rounds can be off by tens of percent, and the largest waits below include the time the scheduler kept a runnable goroutine off a CPU. The ratios are medians of rounds in which both sizes ran next to each other.\n", n)
		}
	}
	r.p("![W2 and W3 at %s and %s sessions, and their ratio](%s)\n", small, large, r.growthChart)
	r.p("W2 is a read-only request (one value read), W3 an increment (`Session.Incr`: one Get, one compare-and-set Put), through the middleware, each on one of 1,000 sessions chosen at random; the rest of the store holds background sessions of 200 bytes. Times are medians of the rounds; `×` is the median over the rounds of the %s time over the %s time of the same round (in brackets the smallest and largest), `CPU ×` the same for the process's CPU time per request, which leaves out the time other processes ran. Target (issue 13): at most %.2f×.\n", large, small, growthLimit)
	r.p("| store | W2 %s | W2 %s | W2 × | W2 CPU × | W3 %s | W3 %s | W3 × | W3 CPU × | fill %s | ≤ %.2f× |", small, large, small, large, large, growthLimit)
	r.p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, st := range growthStores {
		row := []string{st.title}
		status, missing := "**met**", false
		for _, work := range []string{"W2", "W3"} {
			for _, n := range []int{g.small(), g.large()} {
				c := g.cells[growthKey{st.name, work, n}]
				if ns, ok := c.median(unitNs); ok && c != nil {
					row = append(row, fmtNs(ns))
				} else {
					row = append(row, "not run")
					missing = true
				}
			}
			if med, lo, hi, ok := g.ratio(st.name, work, unitNs); ok {
				row = append(row, fmt.Sprintf("%.2f× (%.2f–%.2f)", med, lo, hi))
				switch v := g.verdict(st.name, work); {
				case v == verdictMissed:
					status = "**missed**"
				case v == verdictEngine && status != "**missed**":
					status = fmt.Sprintf("**met** against the engine (≤ %.1f× its growth)", engineLimit)
				}
			} else {
				row = append(row, "")
			}
			if med, _, _, ok := g.ratio(st.name, work, "cpu-ns/op"); ok {
				row = append(row, fmt.Sprintf("%.2f×", med))
			} else {
				row = append(row, "")
			}
		}
		row = append(row, orDash(g.fills[fmt.Sprintf("%s %d", st.name, g.large())]))
		if missing {
			status = "unknown (not run)"
		}
		row = append(row, status)
		r.p("| %s |", strings.Join(row, " | "))
	}
	r.p("")
	r.bareTable()
	r.p("Filling (the `fill` column: the background records and the 1,000 working sessions, which are made through the Manager one request at a time): memstore by Put from 8 goroutines, afresh for each round and size, so that the garbage collector's work for a large store does not fall on the small one's measurement (the other stores stay open at both sizes through the rounds); boltstore in transactions of 50,000 records written in its layout through `Store.DB`; SQLite and PostgreSQL by one INSERT … SELECT per 100,000 rows generated inside the database (random 64-hex keys), PostgreSQL then `VACUUM ANALYZE`, SQLite a WAL checkpoint; Redis by pipelines of 1,000 HSET and PEXPIREAT in redisstore's layout. Each fill is checked: the row or key count, and the store reads a loaded record back. Every store is opened by URL (`store/open`), as the example app opens it.\n")
	r.stallTable()
	r.sqliteSweepTable()
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func must(v float64, _ bool) float64 { return v }

func (r *report) stallTable() {
	g := r.growth
	r.p("### memstore: the sweep's stall at %s sessions\n", fmtSize(g.sweepN))
	if len(g.stall) == 0 {
		r.p("Not run.\n")
		return
	}
	r.p("Each round fills a memstore (1,000 working sessions, the rest background records expiring in an hour) and runs W2 through the middleware from one goroutine in a loop while the Manager's janitor pass (`DeleteExpired(ctx, 1000)` until a batch comes back short) runs beside it: `live` is 100 passes 10 ms apart with nothing expired, `expired` one pass after the store's clock moves two hours on, which deletes every background record. A request that overlapped a pass counts as during it. `idle` is every other request, in a 500 ms window before the passes and between them: the machine's own noise. Medians of %d rounds; the status takes the largest wait of the median round. Target (issue 13): no request waits %s or more on a sweep.\n",
		len(g.stall["expired"]), fmtUs(stallLimitUs))
	r.p("| kind | largest wait during a pass | worst round | p99 during | requests during | idle: largest wait | idle p99 | pass | longest call | deleted | < %s |", fmtUs(stallLimitUs))
	r.p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, kind := range []string{"live", "expired"} {
		e := g.stall[kind]
		if len(e) == 0 {
			r.p("| %s | not run | | | | | | | | | |", kind)
			continue
		}
		med := func(u string) float64 { v, _ := medianOf(e, u); return v }
		worst := 0.0
		for _, x := range e {
			worst = max(worst, x["max-wait-µs"])
		}
		status := "**met**"
		if med("max-wait-µs") >= stallLimitUs {
			status = fmt.Sprintf("**missed**: %.1f× over", med("max-wait-µs")/stallLimitUs)
		}
		r.p("| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %.0f | %s |", kind,
			fmtUs(med("max-wait-µs")), fmtUs(worst), fmtUs(med("p99-wait-µs")), med("requests-during"),
			fmtUs(med("idle-max-wait-µs")), fmtUs(med("idle-p99-µs")), fmtNs(med("pass-ms")*1e6), fmtUs(med("max-call-µs")),
			med("deleted"), status)
	}
	r.p("")
}

func (r *report) sqliteSweepTable() {
	g := r.growth
	r.p("### SQLite: the sweep of %s expired rows\n", fmtSize(g.sweepN))
	if len(g.sqlite) == 0 {
		r.p("Not run.\n")
		return
	}
	r.p("Each round loads %s expired rows into a new SQLite database (`sqlite:PATH`) beside the 1,000 working sessions, runs W2 from one goroutine for 2 s (idle), then the Manager's janitor passes back to back (each at most a minute, `DeleteExpired(ctx, 1000)` until a batch comes back short; a pass that runs out of its minute is an error, and the next pass carries on, as the janitor's next tick would) while W2 runs on. `deleted` is what the passes reported, `gone` what left the table; `WAL` the largest the `-wal` file grew during the sweep. Targets (issue 13): under %d s, W2's p99 within %d× of idle, no errors.\n",
		fmtSize(g.sweepN), sqliteSweepS, sqliteP99Factor)
	r.p("| round | rows | sweep | passes | deleted | gone | left | errors | W2 p99 idle | W2 p99 during | × | W2 max during | requests over 10 ms | WAL | load | targets |")
	r.p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	row := func(name string, v func(string) float64) {
		ratio := 0.0
		if v("idle-p99-µs") > 0 {
			ratio = v("p99-µs") / v("idle-p99-µs")
		}
		var missed []string
		if v("sweep-s") >= sqliteSweepS {
			missed = append(missed, "time")
		}
		if ratio > sqliteP99Factor {
			missed = append(missed, "p99")
		}
		if v("errors") > 0 {
			missed = append(missed, "errors")
		}
		if v("left") > 0 {
			missed = append(missed, "rows left")
		}
		if v("deleted") != v("gone") {
			missed = append(missed, "miscount")
		}
		status := "**met**"
		if len(missed) > 0 {
			status = "**missed**: " + strings.Join(missed, ", ")
		}
		r.p("| %s | %.0f | %.1f s | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %s | %.2f× | %s | %.0f | %.0f MB | %.1f | %s |", name,
			v("rows"), v("sweep-s"), v("passes"), v("deleted"), v("gone"), v("left"), v("errors"),
			fmtUs(v("idle-p99-µs")), fmtUs(v("p99-µs")), ratio, fmtUs(v("max-µs")), v("over-10ms"), v("wal-max-MB"), v("load-1m"), status)
	}
	for i, e := range g.sqlite {
		row(strconv.Itoa(i+1), func(u string) float64 { return e[u] })
	}
	if len(g.sqlite) > 1 {
		row("median", func(u string) float64 { v, _ := medianOf(g.sqlite, u); return v })
	}
	r.p("")
}

// growthColors colour the bars of the growth chart: light for the small
// size, dark for the large one; blue for W2, green for W3.
var growthColors = map[string][2]color.Color{
	"W2": {color.RGBA{158, 202, 225, 255}, color.RGBA{31, 119, 180, 255}},
	"W3": {color.RGBA{161, 217, 155, 255}, color.RGBA{44, 160, 44, 255}},
}

// writeGrowthChart draws two panels: the median time per request of W2
// and W3 at the small and the large size per store (log scale), and the
// ratio of the large size to the small, with the target as a line.
func writeGrowthChart(path string, g *growth) error {
	names := make([]string, len(growthStores))
	for i, st := range growthStores {
		names[i] = st.title
	}
	small, large := fmtSize(g.small()), fmtSize(g.large())

	times := plot.New()
	times.Title.Text = fmt.Sprintf("Time per request at %s and %s sessions (median, log scale)", small, large)
	times.Legend.Top = true
	times.Add(plotter.NewGrid())
	maxY := 1.0
	for _, c := range g.cells {
		if ns, ok := c.median(unitNs); ok {
			maxY = max(maxY, logNs(ns))
		}
	}
	maxY = math.Ceil(maxY) + 1 // a decade of room for the legend
	times.Y.Min, times.Y.Max = 0, maxY
	times.Y.Tick.Marker = decadeTicks(maxY)
	const barW = 14
	offset := -1.5
	for _, work := range []string{"W2", "W3"} {
		for si, n := range []int{g.small(), g.large()} {
			vals := make(plotter.Values, len(growthStores))
			for i, st := range growthStores {
				if ns, ok := g.cells[growthKey{st.name, work, n}].median(unitNs); ok {
					vals[i] = logNs(ns)
				}
			}
			bars, err := plotter.NewBarChart(vals, vg.Points(barW))
			if err != nil {
				return err
			}
			bars.Color = growthColors[work][si]
			bars.LineStyle.Width = 0
			bars.Offset = vg.Points(offset * barW)
			offset++
			times.Add(bars)
			times.Legend.Add(fmt.Sprintf("%s at %s", work, fmtSize(n)), bars)
		}
	}
	times.NominalX(names...)

	ratios := plot.New()
	ratios.Title.Text = fmt.Sprintf("%s over %s (median of rounds); target ≤ %.2f×", large, small, growthLimit)
	ratios.Legend.Top = true
	ratios.Add(plotter.NewGrid())
	maxR := growthLimit
	var labels plotter.XYLabels
	for wi, work := range []string{"W2", "W3"} {
		vals := make(plotter.Values, len(growthStores))
		for i, st := range growthStores {
			if med, _, _, ok := g.ratio(st.name, work, unitNs); ok {
				vals[i] = med
				maxR = max(maxR, med)
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(i) + (float64(wi)-0.5)*0.3, Y: med})
				labels.Labels = append(labels.Labels, fmt.Sprintf("%.2f", med))
			}
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(2*barW))
		if err != nil {
			return err
		}
		bars.Color = growthColors[work][1]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Points((float64(wi) - 0.5) * 2 * barW)
		ratios.Add(bars)
		ratios.Legend.Add(work, bars)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for k := range l.TextStyle {
		l.TextStyle[k].Font.Size = vg.Points(8)
		l.TextStyle[k].XAlign = draw.XCenter
	}
	ratios.Add(l)
	target, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: growthLimit}, {X: float64(len(growthStores)) - 0.5, Y: growthLimit}})
	if err != nil {
		return err
	}
	target.Color = color.RGBA{214, 39, 40, 255}
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	ratios.Add(target)
	ratios.Legend.Add(fmt.Sprintf("target %.2f×", growthLimit), target)
	// Room above the bars for the legend, and a tick every 0.25.
	ratios.Y.Min, ratios.Y.Max = 0, math.Ceil(maxR*1.4*4)/4
	var ticks plot.ConstantTicks
	for y := 0.0; y <= ratios.Y.Max+1e-9; y += 0.25 {
		ticks = append(ticks, plot.Tick{Value: y, Label: fmt.Sprintf("%.2f", y)})
	}
	ratios.Y.Tick.Marker = ticks
	ratios.NominalX(names...)

	img := vgimg.NewWith(vgimg.UseWH(vg.Points(1100), vg.Points(330)), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(24), PadTop: vg.Points(8), PadBottom: vg.Points(8),
		PadLeft: vg.Points(8), PadRight: vg.Points(16)}
	plots := [][]*plot.Plot{{times, ratios}}
	canvases := plot.Align(plots, tiles, dc)
	times.Draw(canvases[0][0])
	ratios.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The verdicts of a store's work on the growth targets.
const (
	verdictUnknown = iota // not run at both sizes
	verdictMet            // large over small within growthLimit
	verdictEngine         // over growthLimit, within engineLimit of the engine's growth
	verdictMissed
)

// verdict judges work on store by issue 13's targets: its median ratio of
// the large size over the small at most growthLimit; failing that, where
// the bare engine's own operation grows too, at most engineLimit times
// the engine's median ratio (same sizes, ns/op).
func (g *growth) verdict(store, work string) int {
	med, _, _, ok := g.ratio(store, work, unitNs)
	switch {
	case !ok:
		return verdictUnknown
	case med <= growthLimit:
		return verdictMet
	}
	if bare, _, _, ok := g.bareRatio(store, work, unitNs); ok && med <= engineLimit*bare {
		return verdictEngine
	}
	return verdictMissed
}

// bareTable sets each store's growth beside its bare engine's, from
// BenchmarkBare; runs without it say so.
func (r *report) bareTable() {
	g := r.growth
	small, large := fmtSize(g.small()), fmtSize(g.large())
	r.p("### Against the bare engine\n")
	if len(g.bareCells) == 0 {
		r.p("No bare-engine results in this run (`BenchmarkBare`, added to `growth.sh` after it was made).\n")
		return
	}
	r.p("`BenchmarkBare` (`bench/bare_test.go`, run by `growth.sh` after `BenchmarkGrowth`, with the same sizes, rounds and benchtime) fills a database per size exactly as `BenchmarkGrowth` does, the 1,000 working sessions made through the Manager, then asks the engine directly for one of the working sessions at random, with no store and no middleware: `get` is bbolt's read transaction and one `Get`, or the store's SELECT by key on a `database/sql` handle with the store's driver and settings; `put` is a bbolt read-write transaction that puts the record back (same bytes, committed with its fsyncs), or an UPDATE of the row. W2 is set beside `get`, W3 beside `put`. Issue 13 lets a store miss %.2f× where the hardware alone makes it impossible, if it stays within %.1f× of the engine's own growth; precisely, the verdict below is **met** when the store's median %s/%s ratio (ns/op) is at most %.2f, **met against the engine** when it is over %.2f but at most %.1f times the engine's median %s/%s ratio for the same operation on the same sizes, and **missed** otherwise. `Δ` is the time the size added: the store's %s median minus its %s median, and the same for the engine; a store whose added time is close to its engine's adds nothing of its own.\n",
		growthLimit, engineLimit, large, small, growthLimit, growthLimit, engineLimit, large, small, large, small)
	r.p("| store | work | store %s | store %s | store × | store Δ | engine op | engine %s | engine %s | engine × | engine CPU × | engine Δ | store × / engine × | verdict |", small, large, small, large)
	r.p("|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|")
	for _, st := range growthStores {
		engine, ok := bareEngines[st.name]
		if !ok {
			continue
		}
		for _, work := range []string{"W2", "W3"} {
			op := bareOps[work]
			sS, okS := g.cells[growthKey{st.name, work, g.small()}].median(unitNs)
			sL, okL := g.cells[growthKey{st.name, work, g.large()}].median(unitNs)
			eS, okES := g.bareCells[growthKey{engine, op, g.small()}].median(unitNs)
			eL, okEL := g.bareCells[growthKey{engine, op, g.large()}].median(unitNs)
			row := []string{st.title, work}
			ns := func(v float64, ok bool) string {
				if !ok {
					return "not run"
				}
				return fmtNs(v)
			}
			delta := func(a, b float64, ok bool) string {
				if !ok {
					return ""
				}
				if b < a {
					return "−" + fmtNs(a-b)
				}
				return "+" + fmtNs(b-a)
			}
			row = append(row, ns(sS, okS), ns(sL, okL))
			sr, slo, shi, okSR := g.ratio(st.name, work, unitNs)
			if okSR {
				row = append(row, fmt.Sprintf("%.2f× (%.2f–%.2f)", sr, slo, shi))
			} else {
				row = append(row, "")
			}
			row = append(row, delta(sS, sL, okS && okL), engine+" "+op, ns(eS, okES), ns(eL, okEL))
			er, elo, ehi, okER := g.bareRatio(st.name, work, unitNs)
			if okER {
				row = append(row, fmt.Sprintf("%.2f× (%.2f–%.2f)", er, elo, ehi))
			} else {
				row = append(row, "")
			}
			if cr, _, _, ok := g.bareRatio(st.name, work, "cpu-ns/op"); ok {
				row = append(row, fmt.Sprintf("%.2f×", cr))
			} else {
				row = append(row, "")
			}
			row = append(row, delta(eS, eL, okES && okEL))
			if okSR && okER && er > 0 {
				row = append(row, fmt.Sprintf("%.2f", sr/er))
			} else {
				row = append(row, "")
			}
			switch g.verdict(st.name, work) {
			case verdictMet:
				row = append(row, "**met**")
			case verdictEngine:
				row = append(row, "**met against the engine**")
			case verdictMissed:
				row = append(row, "**missed**")
			default:
				row = append(row, "unknown (not run)")
			}
			r.p("| %s |", strings.Join(row, " | "))
		}
	}
	r.p("")
}
