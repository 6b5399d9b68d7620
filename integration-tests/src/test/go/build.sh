#!/bin/sh
# Compiles the Go test programs at build time: each NAME.go becomes NAME in OUT_DIR, statically
# linked (CGO_ENABLED=0), with Debian's golang-go. A program newer than its source is kept. The
# build cache lives under OUT_DIR, so nothing is written to $HOME.
# Usage: build.sh SRC_DIR OUT_DIR. Needs golang-go.
set -eu
src=$1
out=$2
mkdir -p "$out"
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: go is missing: apt-get install golang-go (see README.md)" >&2
  exit 1
fi
export CGO_ENABLED=0 GO111MODULE=off GOFLAGS= GOCACHE="$out/.cache" GOPATH="$out/.gopath" GOTOOLCHAIN=local
for g in "$src"/*.go; do
  name=$(basename "$g" .go)
  if [ ! -e "$out/$name" ] || [ "$g" -nt "$out/$name" ]; then
    go build -o "$out/$name" "$g"
  fi
done
