package loadtest

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes res for people: throughput, errors by kind, latency per
// step, and the CPU and memory figures that were measured.
func WriteText(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("kycvs bench: %d virtual users against %s\n", res.Users, res.Issuer)
	if res.WarmupSeconds > 0 {
		p("after a warm-up of %.1f s, whose flows are not counted (failures are)\n", res.WarmupSeconds)
	}
	if res.Interrupted {
		p("INTERRUPTED: the figures cover the flows that finished before\n")
	}
	p("\n")
	p("verifications completed\t%d in %.1f s\t%.1f per second\n", res.Completed, res.ElapsedSeconds, res.FlowsPerSecond)
	p("verifications failed\t%d\t\n", res.Failed)
	for _, e := range res.Errors {
		p("  %s\t%d\te.g. %s\n", e.Kind, e.Count, e.Example)
	}
	p("\nstep\tcount\tmean ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\n")
	for _, s := range res.Steps {
		p("%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", s.Step, s.Count, s.MeanMs, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
	}
	p("\n")
	if s := res.Server; s != nil {
		p("server (pid %d)\tCPU %.2f s\t%.2f ms per verification\t%.2f cores\n", s.PID, s.CPUSeconds, s.CPUMsPerFlow, s.CPUCoresAverage)
		if s.Memory != nil {
			p("server memory\tRSS %.1f MB\tpeak %.1f MB\t\n", mb(s.Memory.RSS), mb(s.Memory.Peak))
		} else {
			p("server memory\tunknown: %s\t\t\n", s.MemoryError)
		}
	}
	if d := res.Database; d != nil {
		p("database (%s processes)\tCPU %.2f s\t%.2f ms per verification\t%.2f cores\n", d.Name, d.CPUSeconds, d.CPUMsPerFlow, d.CPUCoresAverage)
	}
	if q := res.SQL; q != nil {
		if q.Error != "" {
			p("SQL statements\tunknown: %s\t\t\n", q.Error)
		} else {
			p("SQL statements\t%d\t%.1f per verification\t%.1f transactions per verification\n", q.Statements, q.StatementsPerFlow, q.TransactionsPerFlow)
		}
	}
	t := res.Tool
	p("load tool (pid %d)\tCPU %.2f s\t%.2f ms per verification\t%.2f cores\n", t.PID, t.CPUSeconds, t.CPUMsPerFlow, t.CPUCoresAverage)
	if m := res.Machine; m != nil {
		p("machine\t%d CPUs\t%.0f %% busy\t%.2f s CPU outside the processes above\n", m.CPUs, 100*m.Busy, m.OtherCPUSeconds)
		p("kernel, stolen\t%.0f %% of busy\t%.1f %% of all\t\n", 100*m.Kernel, 100*m.Steal)
	}
	p("SMS received\t%d\t", res.SMS.Received)
	if n := res.SMS.BadSignature + res.SMS.Unknown + res.SMS.NoCode + res.SMS.Malformed; n > 0 {
		p("rejected: %d bad signature, %d unknown recipient, %d without code, %d malformed", res.SMS.BadSignature, res.SMS.Unknown, res.SMS.NoCode, res.SMS.Malformed)
	}
	p("\n")
	return tw.Flush()
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
