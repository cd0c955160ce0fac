package loadtest

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "1234 (kycvs (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 5000 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Fatalf("CPU = %v, want %v (300 ticks)", got, want)
	}
	if _, err := parseStatCPU([]byte("1234 (short) S 1 2")); err == nil {
		t.Fatal("a truncated stat line must be an error")
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tkycvs\nVmPeak:\t  900000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n"
	m, err := parseStatusMemory([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 50<<20 || m.Peak != 60<<20 {
		t.Fatalf("got %+v, want RSS 50 MiB, peak 60 MiB", m)
	}
	if _, err := parseStatusMemory([]byte("Name:\tkthreadd\n")); err == nil {
		t.Fatal("a status without VmRSS must be an error (kernel threads have none)")
	}
}

func TestParseMachineCPU(t *testing.T) {
	m, ok := parseMachineCPU([]byte("cpu  100 5 20 800 50 0 5 0 7 0\ncpu0 1 2 3 4\n"))
	if !ok {
		t.Fatal("not parsed")
	}
	if m.busy != 130 || m.total != 980 {
		t.Fatalf("got busy %d total %d, want 130 of 980 (idle and iowait idle, guest not counted twice)", m.busy, m.total)
	}
	if m.kernel != 25 || m.steal != 0 {
		t.Fatalf("got kernel %d steal %d, want 25 (system and softirq) and 0", m.kernel, m.steal)
	}
	m, _ = parseMachineCPU([]byte("cpu  100 0 20 800 0 3 5 40\n"))
	if m.kernel != 28 || m.steal != 40 || m.busy != 168 {
		t.Fatalf("got kernel %d steal %d busy %d, want 28 (system, irq, softirq), 40 and 168", m.kernel, m.steal, m.busy)
	}
}

func TestProcessOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	m, err := ProcessMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.Peak < m.RSS {
		t.Fatalf("implausible memory %+v", m)
	}
}

func TestProcessesCPUFindsThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	comm, ok := statComm(b)
	if !ok {
		t.Fatalf("no command name in %q", b)
	}
	_, n, err := ProcessesCPU(comm)
	if err != nil || n < 1 {
		t.Fatalf("ProcessesCPU(%q) found %d processes, %v", comm, n, err)
	}
	if _, n, _ := ProcessesCPU("no-such-proc-x"); n != 0 {
		t.Fatalf("found %d processes named no-such-proc-x", n)
	}
}
