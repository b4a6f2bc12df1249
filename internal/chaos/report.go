package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
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
const DetectionNote = "time from staging the faults until the gateway's status (status.Source) reports, for every fault due one, " +
	"an open incident of an expected kind naming one of its nodes; state: until a faulty provider is first in a state other than up"

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
// faults not detected and why, and the examples of failures and wrong
// answers.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\t requests\t failed\t wrong\t p99 ms\t detect\t incident\t state\t by\t recover\t tx mined\t heads\t heap MB\t RSS MB\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t %d\t %s\t %d\t %.0f\t %s\t %s\t %s\t %s\t %s\t %d/%d\t %d\t %.0f\t %.0f\t\n",
			s.Name, s.Requests, failedCell(s), s.Wrong, s.P99Ms, detectCell(s), kindsCell(s), msCell(s.StateMs), orDash(string(s.State)), msCell(s.RecoverMs),
			s.TxMined, s.TxSent, s.Heads, s.PeakHeapMB, s.PeakRSSMB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Scenarios {
		for _, d := range s.Detections {
			switch {
			case d.Missed():
				fmt.Fprintf(w, "missed  %s: %s: no open incident of kind %s naming its nodes while it was held; seen: %s\n",
					s.Name, d.Fault, kindList(d.Expect), orNone(strings.Join(s.Incidents, " | ")))
			case !d.Detected() && len(d.Expect) > 0:
				fmt.Fprintf(w, "undetected  %s: %s: %s\n", s.Name, d.Fault, d.NotDetectable)
			}
		}
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

// DetectText says in a few words how the scenario's faults were detected:
// the time and the incidents' kinds, as in the table.
func (r Result) DetectText() string {
	return detectCell(r) + " " + kindsCell(r)
}

// detectCell is the time to detect: "n/a" when no fault was due an
// incident, "-" when one was missed, "none" when none could be raised.
func detectCell(s Result) string {
	if !s.Expected() {
		return "n/a"
	}
	if !slices.ContainsFunc(s.Detections, func(d Detection) bool { return d.Missed() || d.Detected() }) {
		return "none"
	}
	return msCell(s.DetectMs)
}

// kindsCell is the kinds of the incidents that detected the faults,
// "no <kind>" for a fault that could not be detected.
func kindsCell(s Result) string {
	var out []string
	for _, d := range s.Detections {
		switch {
		case d.Detected():
			out = append(out, string(d.Kind))
		case len(d.Expect) > 0:
			out = append(out, "no "+string(d.Expect[0]))
		}
	}
	return orDash(strings.Join(out, "+"))
}

func kindList(ks []status.Kind) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return strings.Join(out, " or ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// msCell is a duration in seconds, "-" for never.
func msCell(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}
