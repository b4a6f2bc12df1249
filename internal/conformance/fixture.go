package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLine bounds one fixture line: some receipts fixtures are megabytes long.
const maxLine = 32 << 20

// Fixture is one .io test: requests sent verbatim, each followed by the
// answer expected for it.
type Fixture struct {
	Path     string // e.g. eth_getBalance/get-balance (no .io), the order tests run in
	SpecOnly bool   // the recorded result is an example: check it against the result schema
	Steps    []Step
}

// Step is one request and its expected answer.
type Step struct {
	Request []byte
	Want    []byte
	Method  string
}

// LoadFixtures reads every .io file under dir in lexical path order, as
// hive's rpc-compat walks them.
func LoadFixtures(dir string) ([]Fixture, error) {
	var out []Fixture
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".io") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := loadFixture(path)
		if err != nil {
			return err
		}
		f.Path = strings.TrimSuffix(filepath.ToSlash(rel), ".io")
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load fixtures: %w", err)
	}
	return out, nil
}

// loadFixture parses one .io file the way hive's testload.go does: header
// comments (a "speconly:" one marks the test), then ">>" and "<<" lines.
func loadFixture(path string) (Fixture, error) {
	var f Fixture
	file, err := os.Open(path)
	if err != nil {
		return f, err
	}
	defer file.Close()
	scan := bufio.NewScanner(file)
	scan.Buffer(make([]byte, 0, 64<<10), maxLine)
	inHeader := true
	for scan.Scan() {
		line := strings.TrimSpace(scan.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "//"):
			if inHeader && strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(line, "//")), "speconly:") {
				f.SpecOnly = true
			}
		case strings.HasPrefix(line, ">>"):
			inHeader = false
			data := []byte(strings.TrimSpace(line[2:]))
			var m struct {
				Method string `json:"method"`
			}
			if err := json.Unmarshal(data, &m); err != nil {
				return f, fmt.Errorf("%s: request is not JSON: %w", path, err)
			}
			f.Steps = append(f.Steps, Step{Request: data, Method: m.Method})
		case strings.HasPrefix(line, "<<"):
			inHeader = false
			data := []byte(strings.TrimSpace(line[2:]))
			if len(f.Steps) == 0 || f.Steps[len(f.Steps)-1].Want != nil {
				return f, fmt.Errorf("%s: answer without a request", path)
			}
			if !json.Valid(data) {
				return f, fmt.Errorf("%s: answer is not JSON", path)
			}
			f.Steps[len(f.Steps)-1].Want = data
		default:
			return f, fmt.Errorf("%s: invalid line %.40q", path, line)
		}
	}
	if err := scan.Err(); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range f.Steps {
		if s.Want == nil {
			return f, fmt.Errorf("%s: request without an answer", path)
		}
	}
	return f, nil
}
