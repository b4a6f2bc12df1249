#!/usr/bin/env bash
# Writes a Go vulnerability database for govulncheck -db file://DIR into DIR,
# from the OSV files of the golang.org/x/vulndb version pinned by
# .ci/tools/vulndb/go.mod (the module proxy serves it; vuln.go.dev need not be
# reachable). It is as new as that version: see the date printed.
# Usage: .ci/tools/vulndb.sh INDEXDB DIR
set -euo pipefail
# The paths are taken before the cd below, so relative ones work too.
indexdb=$(realpath "$1") out=$(realpath -m "$2")
cd "$(dirname "$0")/vulndb"
go mod download golang.org/x/vulndb
src=$(go list -m -f '{{.Dir}}' golang.org/x/vulndb)
echo "vulnerability database: golang.org/x/vulndb $(go list -m -f '{{.Version}} ({{.Time}})' golang.org/x/vulndb), $(ls "$src/data/osv" | wc -l) OSV entries"
rm -rf "$out"
"$indexdb" -vulns "$src/data/osv" -out "$out"
