package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of CPU times in /proc/PID/stat: USER_HZ, 100 on every
// Linux architecture Go supports.
const userHZ = 100

// procCPU returns the CPU time (user plus system) a process has used so far,
// from /proc/PID/stat (Linux only). Its resolution is 10 ms, so measure runs
// of seconds.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces; the
	// fields after its closing parenthesis start at field 3 (state).
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("process %d: malformed /proc stat", pid)
	}
	fields := bytes.Fields(b[end+1:])
	const utime, stime = 14 - 3, 15 - 3 // field numbers of proc(5), from field 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("process %d: malformed /proc stat", pid)
	}
	u, err1 := strconv.ParseUint(string(fields[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(fields[stime]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process %d: malformed /proc stat", pid)
	}
	return time.Duration(u+s) * time.Second / userHZ, nil
}

// procPeakRSS returns a process's peak resident set size in bytes (VmHWM of
// /proc/PID/status, Linux only).
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "123456 kB"
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("process %d: no VmHWM in /proc status", pid)
}

// processMeter accumulates the CPU time a target's process spends during
// measured phases.
type processMeter struct {
	pid   int
	cpu   time.Duration
	start time.Duration
	err   error // the first read error; the meter stops at it
}

func (m *processMeter) begin() {
	if m == nil || m.err != nil {
		return
	}
	m.start, m.err = procCPU(m.pid)
}

func (m *processMeter) end() {
	if m == nil || m.err != nil {
		return
	}
	now, err := procCPU(m.pid)
	if err != nil {
		m.err = err
		return
	}
	m.cpu += now - m.start
}
