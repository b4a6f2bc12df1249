package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// newFlagSet is a command's flag set: errors and usage (about, then the
// flags) go to stderr.
func newFlagSet(name, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, which hold flags only, with fs and returns a
// logger to stderr at the level fs's --log-level names.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	level, err := parseLevel(fs.Lookup("log-level").Value.String())
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("log level must be one of debug, info, warn, error")
	}
	return l, nil
}
