#!/bin/sh
# Compiles the C test programs at build time, on the build machine: each NAME.c becomes
# NAME-musl (musl-gcc -static) and NAME-glibc (gcc -static) in OUT_DIR. A program newer than
# its source is kept. (Compiling in the tests instead would run gcc inside the emulated
# machine where there is no /dev/kvm, tens of times slower.)
# Usage: build.sh SRC_DIR OUT_DIR. Needs gcc, libc6-dev and musl-tools.
set -eu
src=$1
out=$2
mkdir -p "$out"
for cc in musl-gcc gcc; do
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: $cc is missing: apt-get install gcc libc6-dev musl-tools (see README.md)" >&2
    exit 1
  fi
done
for c in "$src"/*.c; do
  name=$(basename "$c" .c)
  for pair in musl-gcc:musl gcc:glibc; do
    bin="$out/$name-${pair#*:}"
    if [ ! -e "$bin" ] || [ "$c" -nt "$bin" ]; then
      "${pair%%:*}" -static -pthread -O2 -Wall -Werror -o "$bin" "$c"
    fi
  done
done
