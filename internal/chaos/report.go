package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a chaos run: where and when it ran, and each scenario's result.
type Report struct {
	Started   time.Time `json:"started"`
	Took      string    `json:"took"`
	Command   string    `json:"command"`
	Machine   string    `json:"machine"`
	BlockTime string    `json:"blockTime"`
	// Detection says what time to detect measures.
	Detection string   `json:"detection"`
	Scenarios []Result `json:"scenarios"`
}

// DetectionNote is what the report says time to detect measures.
const DetectionNote = "time from staging the fault until the gateway's status (status.Source) shows an open incident " +
	"of an expected kind or, before that, a faulty provider in a state other than up"

// Machine describes this machine in one line.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table, one scenario a row, then the
// examples of failures and wrong answers.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\t requests\t failed\t wrong\t p99 ms\t detect\t by\t incident\t recover\t tx mined\t heads\t heap MB\t RSS MB\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t %d\t %s\t %d\t %.0f\t %s\t %s\t %s\t %s\t %d/%d\t %d\t %.0f\t %.0f\t\n",
			s.Name, s.Requests, failedCell(s), s.Wrong, s.P99Ms, detectCell(s.DetectMs, s), byCell(s), detectCell(s.IncidentMs, s), msCell(s.RecoverMs),
			s.TxMined, s.TxSent, s.Heads, s.PeakHeapMB, s.PeakRSSMB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Scenarios {
		for _, x := range s.WrongSamples {
			fmt.Fprintf(w, "wrong   %s: %s\n", s.Name, x)
		}
		for _, x := range s.FailureSamples {
			fmt.Fprintf(w, "failed  %s: %s\n", s.Name, x)
		}
		if s.Lingering != "" {
			fmt.Fprintf(w, "slow    %s: %s after the faults were cleared: %s\n", s.Name, lingerAfter, s.Lingering)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "error   %s: %s\n", s.Name, s.Error)
		}
	}
	return nil
}

func failedCell(s Result) string {
	if s.Requests == 0 {
		return fmt.Sprint(s.Failures)
	}
	return fmt.Sprintf("%d (%.1f%%)", s.Failures, 100*float64(s.Failures)/float64(s.Requests))
}

// detectCell is a detection time, "n/a" when nothing was to be detected.
func detectCell(ms int64, s Result) string {
	if len(s.Expect) == 0 {
		return "n/a"
	}
	return msCell(ms)
}

func byCell(s Result) string {
	if s.DetectedBy == "" {
		return "-"
	}
	return strings.TrimPrefix(s.DetectedBy, "state ")
}

// msCell is a duration in seconds, "-" for never.
func msCell(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}
