package conformance

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Known is the list of tests expected to fail, by configuration and test
// path, each with a one-line reason.
type Known map[string]map[string]string

// Flaky reports whether a listed failure depends on timing (its reason
// starts with "flaky:"): such a test may pass or fail.
func (k Known) Flaky(config, path string) bool {
	return strings.HasPrefix(k[config][path], "flaky:")
}

// LoadKnown reads a known-failures file: one "config path reason" line per
// failing test; blank lines and lines starting with # are ignored.
func LoadKnown(path string) (Known, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("known failures: %w", err)
	}
	defer f.Close()
	k := Known{}
	scan := bufio.NewScanner(f)
	for n := 1; scan.Scan(); n++ {
		line := strings.TrimSpace(scan.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("known failures %s:%d: want \"config path reason\"", path, n)
		}
		cfg, test := fields[0], fields[1]
		if k[cfg] == nil {
			k[cfg] = map[string]string{}
		}
		if _, dup := k[cfg][test]; dup {
			return nil, fmt.Errorf("known failures %s:%d: %s %s listed twice", path, n, cfg, test)
		}
		k[cfg][test] = strings.Join(fields[2:], " ")
	}
	if err := scan.Err(); err != nil {
		return nil, fmt.Errorf("known failures: %w", err)
	}
	return k, nil
}
