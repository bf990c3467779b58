// Command report writes BENCHMARKS.md and its chart from the results of
// "make bench": the raw output of the micro benchmarks (several rounds of
// go test -bench, -count=1 each) and the end-to-end wrk runs.
//
//	go run ./cmd/report -micro results/micro.txt -e2e results/e2e.txt -growth results/growth.txt \
//		-out ../BENCHMARKS.md -chart chart.png -growth-chart growth.png
//
// Every number in the tables is the median over the rounds. The targets of
// issue 6 are checked and reported as met or missed, by how much, and those
// of issue 13 in the growth section (growth.sh's results, with their own
// chart).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	micro := flag.String("micro", "results/micro.txt", "raw go test -bench output, all rounds")
	e2e := flag.String("e2e", "results/e2e.txt", "end-to-end results of e2e.sh")
	load := flag.String("load", "results/load.txt", "load average at the start of each round")
	analysis := flag.String("analysis", "analysis.md", "hand-written analysis to include (optional)")
	out := flag.String("out", "../BENCHMARKS.md", "Markdown file to write")
	chart := flag.String("chart", "chart.png", "PNG chart to write")
	growthPath := flag.String("growth", "results/growth.txt", "results of growth.sh (optional)")
	growthChart := flag.String("growth-chart", "growth.png", "PNG chart of the growth results to write")
	flag.Parse()
	if err := run(*micro, *e2e, *load, *analysis, *out, *chart, *growthPath, *growthChart); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(microPath, e2ePath, loadPath, analysisPath, outPath, chartPath, growthPath, growthChartPath string) error {
	m, err := readMicro(microPath)
	if err != nil {
		return err
	}
	e, err := readE2E(e2ePath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	loads, err := readLoad(loadPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	analysis, err := os.ReadFile(analysisPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	g, err := readGrowth(growthPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := writeChart(chartPath, m); err != nil {
		return err
	}
	written := []string{outPath, chartPath}
	if g != nil {
		if err := writeGrowthChart(growthChartPath, g); err != nil {
			return err
		}
		written = append(written, growthChartPath)
	}
	// The paths as the Markdown file links them.
	links := sourcesOf(outPath, chartPath, growthChartPath, growthPath)
	rep := &report{micro: m, e2e: e, loads: loads, analysis: string(analysis), chart: links[0],
		sources: sourcesOf(outPath, microPath, e2ePath), growth: g, growthChart: links[1], growthSource: links[2]}
	if err := os.WriteFile(outPath, []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s\n", strings.Join(written, ", "))
	return nil
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// sourcesOf returns the result files as paths relative to the Markdown
// file, for its links.
func sourcesOf(outPath string, paths ...string) []string {
	var rels []string
	for _, p := range paths {
		r, err := filepath.Rel(filepath.Dir(absOr(outPath)), absOr(p))
		if err != nil {
			r = p
		}
		rels = append(rels, filepath.ToSlash(r))
	}
	return rels
}

// readLoad reads the load averages micro.sh recorded, one "1m 5m 15m" line
// per round.
func readLoad(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var loads []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			loads = append(loads, f[0])
		}
	}
	return loads, nil
}
