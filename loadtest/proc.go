package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of the CPU times in
// /proc/PID/stat. It is 100 on every architecture Go supports on Linux
// (the kernel fixes it for the user ABI whatever CONFIG_HZ is); reading it
// with sysconf would need cgo.
const clockTicks = 100

// ProcessCPU returns the CPU time (user + system) process pid has used so
// far, from /proc/PID/stat. It fails when the process does not exist or
// /proc is not Linux's.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the name, want 13 or more", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: bad utime or stime")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Memory is a process's resident memory, in bytes.
type Memory struct {
	RSS  uint64 `json:"rss_bytes"`  // VmRSS: resident now
	Peak uint64 `json:"peak_bytes"` // VmHWM: the most it was ever resident
}

// ProcessMemory reads VmRSS and VmHWM from /proc/PID/status.
func ProcessMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return parseStatusMemory(b)
}

func parseStatusMemory(b []byte) (Memory, error) {
	var m Memory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("proc status: %s: unexpected %q", key, val)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("proc status: %s: %v", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the aggregate "cpu" line of /proc/stat: busy and total
// time of all CPUs together, in clock ticks; of the busy time, kernel is
// the kernel's own (system, irq and softirq) and steal what the
// hypervisor gave to other guests.
type machineCPU struct {
	busy, kernel, steal, total uint64
}

// since is the CPU time m holds beyond an earlier reading.
func (m machineCPU) since(earlier machineCPU) machineCPU {
	return machineCPU{
		busy:   m.busy - earlier.busy,
		kernel: m.kernel - earlier.kernel,
		steal:  m.steal - earlier.steal,
		total:  m.total - earlier.total,
	}
}

// readMachineCPU reads /proc/stat; ok is false where there is none.
func readMachineCPU() (machineCPU, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, false
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) (machineCPU, bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}, false
	}
	var m machineCPU
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already in user, so it is not added again.
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return machineCPU{}, false
		}
		m.total += v
		if i != 3 && i != 4 { // idle, iowait
			m.busy += v
		}
		switch i {
		case 2, 5, 6: // system, irq, softirq
			m.kernel += v
		case 7:
			m.steal += v
		}
	}
	return m, true
}

func osPID() int { return os.Getpid() }

// ProcessesCPU returns the CPU time used so far by every process whose
// command name (the comm of /proc/PID/stat, at most 15 characters) is
// name, e.g. "postgres": a database server is many processes. Processes
// that end between two readings take their time with them, so compare
// readings over a run in which the server keeps its connections open.
// It also returns how many processes it found.
func ProcessesCPU(name string) (time.Duration, int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	var total time.Duration
	var n int
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if comm, ok := statComm(b); !ok || comm != name {
			continue
		}
		cpu, err := parseStatCPU(b)
		if err != nil {
			continue
		}
		total += cpu
		n++
	}
	return total, n, nil
}

// statComm returns the command name between the first '(' and the last ')'.
func statComm(b []byte) (string, bool) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", false
	}
	return string(b[i+1 : j]), true
}
