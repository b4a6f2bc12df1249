package devnet

import (
	"context"
	"fmt"
	"os"
	"time"
)

// RunSuite runs a test package against one shared devnet: the body of its
// TestMain. It starts a devnet with opts (500 ms blocks unless set), runs
// prepare on it (when not nil) within the same 90 s bound, then run (which
// calls m.Run), closes the devnet and returns the exit code. With short
// set (testing.Short) nothing starts and the suite is skipped.
func RunSuite(name string, short bool, opts Options, prepare func(ctx context.Context, d *Devnet) error, run func(d *Devnet) int) int {
	if short {
		fmt.Println(name + ": skipped with -short")
		return 0
	}
	if opts.BlockTime == 0 {
		opts.BlockTime = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start devnet:", err)
		return 1
	}
	if prepare != nil {
		if err := prepare(ctx, d); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			_ = d.Close()
			return 1
		}
	}
	cancel()
	code := run(d)
	if err := d.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close devnet:", err)
	}
	return code
}
