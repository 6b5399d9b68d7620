#!/bin/sh
# Compiles the Java guest programs (SRC_DIR/*.java) for Java 17 into OUT_DIR with the build's
# JDK 25 (found as scripts/lib.sh finds it), unless the classes are newer than their sources.
# Usage: build.sh SRC_DIR OUT_DIR
set -eu
src=$1
out=$2
root=$(cd "$(dirname "$0")/../../../.." && pwd)
. "$root/scripts/lib.sh"
require_jdk build.sh
mkdir -p "$out"
stale=0
for j in "$src"/*.java; do
  class="$out/$(basename "$j" .java).class"
  if [ ! -e "$class" ] || [ "$j" -nt "$class" ]; then
    stale=1
  fi
done
if [ "$stale" = 1 ]; then
  "$jdk/bin/javac" --release 17 -d "$out" "$src"/*.java
fi
