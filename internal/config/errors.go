package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a config file, located by file, line and the
// field path ("chains[0].providers[2].http").
type FieldError struct {
	File string // as given to Parse or Load; may be empty
	Line int    // 1-based; 0 when the field is not in the file (a default)
	Path string // dotted field path with list indices; empty for the whole document
	Msg  string
}

// Error formats the problem as "file:line: path: message".
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldErrors returns the FieldErrors inside err (as returned by Parse, Load
// or Validate), in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// MaxErrors bounds the problems one error lists; the rest are counted.
const MaxErrors = 50

// joinSorted orders errs by line then path and joins them; nil when empty.
func joinSorted(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path))
	})
	if n := len(errs); n > MaxErrors {
		errs = append(errs[:MaxErrors:MaxErrors], &FieldError{File: errs[0].File, Msg: fmt.Sprintf("and %d more problems", n-MaxErrors)})
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
