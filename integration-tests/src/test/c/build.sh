#!/bin/sh
# Compiles the C test programs at build time, on the build machine: each NAME.c becomes
# NAME-musl (musl-gcc -static), NAME-glibc (gcc -static) and NAME-dyn (gcc, dynamically linked
# against the system's glibc) in OUT_DIR, and each ../cxx/NAME.cc becomes NAME-dyn (g++,
# dynamic: libstdc++, libgcc_s, libm, libc). A program newer than its source is kept. (Compiling in the tests instead would run gcc inside the emulated
# machine where there is no /dev/kvm, tens of times slower.)
# guest.h holds the helpers the programs share (errno names, waits); a change to it rebuilds all.
# Usage: build.sh SRC_DIR OUT_DIR. Needs gcc, g++, libc6-dev and musl-tools.
set -eu
src=$1
out=$2
mkdir -p "$out"
for cc in musl-gcc gcc g++; do
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: $cc is missing: apt-get install gcc g++ libc6-dev musl-tools (see README.md)" >&2
    exit 1
  fi
done
for c in "$src"/*.c; do
  name=$(basename "$c" .c)
  for triple in musl-gcc:musl:-static gcc:glibc:-static gcc:dyn:-pthread; do
    cc=${triple%%:*}
    rest=${triple#*:}
    bin="$out/$name-${rest%%:*}"
    if [ ! -e "$bin" ] || [ "$c" -nt "$bin" ] || [ "$src/guest.h" -nt "$bin" ]; then
      "$cc" "${rest#*:}" -pthread -O2 -Wall -Werror -o "$bin" "$c"
    fi
  done
done
for cc in "$src"/../cxx/*.cc; do
  [ -e "$cc" ] || continue
  bin="$out/$(basename "$cc" .cc)-dyn"
  if [ ! -e "$bin" ] || [ "$cc" -nt "$bin" ]; then
    g++ -pthread -O2 -Wall -Werror -o "$bin" "$cc"
  fi
done
