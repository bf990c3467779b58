package main

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a spinner with a count on stderr for scans whose length is
// unknown. A nil *progress, used off a terminal and with -json, does
// nothing, so scripts get clean output.
type progress struct {
	bar *progressbar.ProgressBar
}

func (a *app) startProgress(desc string) *progress {
	if !a.progress {
		return nil
	}
	return &progress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetWidth(10),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionShowTotalBytes(false),
		progressbar.OptionThrottle(65*time.Millisecond),
		// The table or the count follows on stdout: leave no bar behind.
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) add(n int) {
	if p != nil {
		p.bar.Add(n)
	}
}

// done clears the spinner and stops its goroutine.
func (p *progress) done() {
	if p != nil {
		p.bar.Finish()
	}
}
