// Package redact keeps what may be secret in a provider's URL out of what
// rpcmesh prints: hosted providers put the API key in the path
// (/v3/KEY), the query (?apikey=KEY) or the userinfo (https://KEY@host),
// often from ${ENV} in the config. Logs, errors and status output name an
// endpoint by its scheme and host only.
package redact

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// URL returns what may be shown of the endpoint raw: its scheme and host.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the provider's URL"
	}
	return u.Scheme + "://" + u.Host
}

// Error returns err with the parts of raw that may hold a secret (its
// userinfo, path, query and fragment, raw and unescaped) replaced by "***"
// in its message, and the URL of a *url.Error in its chain (net/http's
// errors quote the whole URL) cut to URL(raw). errors.Is and errors.As see
// the same chain as before. nil stays nil.
func Error(err error, raw string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		ue.URL = URL(ue.URL) // made for this call: nobody else holds it
	}
	secrets := secretsOf(raw)
	if len(secrets) == 0 {
		return err
	}
	return &redacted{err: err, secrets: secrets}
}

// secretsOf returns the parts of raw that may hold a secret, longest first
// (so that no shorter one leaves part of a longer one behind). Parts under
// four bytes ("/", "/v1") are left: no key is that short, and replacing
// them would garble every message.
func secretsOf(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw} // cannot tell the parts apart: all of it
	}
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	if u.User != nil {
		add(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
		add(u.User.String())
	}
	add(u.EscapedPath())
	add(u.Path)
	add(u.RawQuery)
	if q, err := url.QueryUnescape(u.RawQuery); err == nil {
		add(q)
	}
	add(u.EscapedFragment())
	add(u.Fragment)
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func replace(s string, secrets []string) string {
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "***")
	}
	return s
}

// redacted is an error whose message has its secrets replaced.
type redacted struct {
	err     error
	secrets []string
}

func (e *redacted) Error() string { return replace(e.err.Error(), e.secrets) }

func (e *redacted) Unwrap() error { return e.err }
