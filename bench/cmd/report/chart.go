package main

import (
	"image/color"
	"math"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// families colour the bars by library.
var families = []struct {
	prefix string
	color  color.Color
}{
	{"baseline", color.RGBA{150, 150, 150, 255}},
	{"httpsession-", color.RGBA{31, 119, 180, 255}},
	{"scs-", color.RGBA{255, 127, 14, 255}},
	{"gorilla-", color.RGBA{148, 103, 189, 255}},
}

// chartFloorNs is the left end of the log-scale axis.
const chartFloorNs = 100

// logNs places ns on the chart's axis: decades above chartFloorNs.
func logNs(ns float64) float64 {
	return max(math.Log10(ns/chartFloorNs), 0.02)
}

// writeChart draws one panel per workload: a horizontal bar of median
// ns/op per adapter, on a shared log scale, labelled with its value.
func writeChart(path string, m *micro) error {
	const cols = 2
	rows := (len(workloads) + cols - 1) / cols
	maxX := 1.0
	for _, c := range m.session {
		if ns, ok := c.median(unitNs); ok {
			maxX = max(maxX, logNs(ns))
		}
	}
	maxX = math.Ceil(maxX + 0.5) // room for the value labels

	names := slices.Clone(adapters)
	slices.Reverse(names) // NominalY counts from the bottom; the baseline goes on top
	plots := make([][]*plot.Plot, rows)
	for i, w := range workloads {
		p := plot.New()
		p.Title.Text = w.name + ": " + w.title
		p.X.Label.Text = "time per request (median, log scale)"
		p.X.Min, p.X.Max = 0, maxX
		p.X.Tick.Marker = decadeTicks(maxX)
		p.Add(plotter.NewGrid())

		var labels plotter.XYLabels
		for _, f := range families {
			vals := make(plotter.Values, len(names))
			for j, a := range names {
				if !strings.HasPrefix(a, f.prefix) {
					continue
				}
				c := m.session[[2]string{w.name, a}]
				ns, ok := c.median(unitNs)
				if c == nil || !ok {
					labels.XYs = append(labels.XYs, plotter.XY{X: 0.02, Y: float64(j)})
					labels.Labels = append(labels.Labels, "n/a")
					continue
				}
				vals[j] = logNs(ns)
				labels.XYs = append(labels.XYs, plotter.XY{X: vals[j] + 0.03, Y: float64(j)})
				labels.Labels = append(labels.Labels, fmtNs(ns))
			}
			bars, err := plotter.NewBarChart(vals, vg.Points(11))
			if err != nil {
				return err
			}
			bars.Horizontal = true
			bars.Color = f.color
			bars.LineStyle.Width = 0
			p.Add(bars)
		}
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range l.TextStyle {
			l.TextStyle[k].Font.Size = vg.Points(8)
			l.TextStyle[k].YAlign = draw.YCenter
		}
		p.Add(l)
		p.NominalY(names...)
		plots[i/cols] = append(plots[i/cols], p)
	}

	img := vgimg.NewWith(vgimg.UseWH(vg.Points(1100), vg.Points(300*float64(rows))), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(24), PadY: vg.Points(18),
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(16)}
	canvases := plot.Align(plots, tiles, dc)
	for j, row := range plots {
		for i, p := range row {
			p.Draw(canvases[j][i])
		}
	}
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

// decadeTicks marks every power of ten from chartFloorNs up to maxX
// decades above it.
func decadeTicks(maxX float64) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	for d := 0; float64(d) <= maxX; d++ {
		ticks = append(ticks, plot.Tick{Value: float64(d), Label: fmtNs(chartFloorNs * math.Pow(10, float64(d)))})
	}
	return ticks
}
