package cmdtest

import (
	"bufio"
	"context"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SurvivesSIGHUP runs the command under test with args as a process and
// waits for the line of its stdout from which url gets the URL of a
// JSON-RPC endpoint of chain 1337, then sends the process SIGHUP by PID
// three times: it must go on answering eth_chainId there and say it
// ignored the signal; SIGTERM then stops it with exit status 0.
func SurvivesSIGHUP(t *testing.T, args []string, url func(line string) (string, bool)) {
	t.Helper()
	cmd := Command(args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1) // the exit, once
	done := make(chan struct{})   // closed at exit
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	endpoints := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := url(sc.Text()); ok {
				select {
				case endpoints <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
		close(done)
	}()
	var endpoint string
	select {
	case endpoint = <-endpoints:
	case err := <-exited:
		t.Fatalf("%v exited before listening: %v\n%s", args, err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%v not listening within 20s\n%s", args, stderr.String())
	}
	answers := func() bool {
		resp, err := RPCCall(endpoint, "eth_chainId")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `"result":"0x539"`)
	}
	if !answers() {
		t.Fatalf("%v does not answer eth_chainId before SIGHUP\n%s", args, stderr.String())
	}

	for range 3 {
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the process to say it ignored the signal (or to die of it).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !strings.Contains(stderr.String(), "SIGHUP received and ignored") {
		select {
		case err := <-exited:
			t.Fatalf("%v died on SIGHUP: %v\n%s", args, err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("no log line for SIGHUP within 10s\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !answers() {
		t.Fatalf("%v stopped answering after SIGHUP\n%s", args, stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%v did not stop within 20s of SIGTERM", args)
	}
}
