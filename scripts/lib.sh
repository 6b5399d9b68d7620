# Shared by ./vkernel and benchmarks/run (sourced, POSIX sh): finding JDK 25 the way the
# build's toolchains plugin does, and rebuilding a module's jar when its sources changed.

jdk_version() {
  sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}

# Prints JAVA_HOME if it is JDK 25 or newer, else the newest JDK 25+ under /usr/lib/jvm.
find_jdk() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    v=$(jdk_version "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      echo "$JAVA_HOME"
      return 0
    fi
  fi
  best=""
  best_v=0
  for home in /usr/lib/jvm/*; do
    [ -x "$home/bin/java" ] || continue
    v=$(jdk_version "$home")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$best_v" ]; then
      best=$home
      best_v=$v
    fi
  done
  [ -n "$best" ] && echo "$best"
}

# The JVM options the vkernel runs with, unless VKERNEL_JAVA_OPTIONS gives others (an empty
# value means the JVM's defaults): C1 only. A fresh vkernel JVM's Java is mostly warm exit
# handling, which tiered compilation leaves in C1's slow profiling tier while C2 compiles; see
# docs/vkernel.md, *The JIT*, for the runs measured both ways. The emulated machine's inner JVM
# has its own set (EmulatedMachine).
vkernel_java_options() {
  if [ "${VKERNEL_JAVA_OPTIONS+set}" = set ]; then
    echo "$VKERNEL_JAVA_OPTIONS"
  else
    echo "-XX:TieredStopAtLevel=1"
  fi
}

# require_jdk NAME: sets $jdk or exits with a one-line error.
require_jdk() {
  jdk=$(find_jdk) || true
  if [ -z "$jdk" ]; then
    echo "$1: no JDK 25 or newer found (JAVA_HOME or /usr/lib/jvm); see README.md, Requirements" >&2
    exit 127
  fi
}

# ensure_jar NAME ROOT MODULE JAR: builds MODULE (and what it needs) unless JAR is newer than
# every main source, POM and scripts/svm-machine (which the jar bundles).
ensure_jar() {
  name=$1 root=$2 module=$3 jar=$4
  # Only the modules' main sources and POMs are looked at: a walk of the whole checkout would
  # also cross build/ and the like, slow over the emulated machine's 9p share.
  if [ -f "$jar" ] && [ -z "$(find "$root"/pom.xml "$root"/*/pom.xml "$root"/*/src/main "$root/scripts/svm-machine" \
      -newer "$jar" -print 2>/dev/null | head -n 1)" ]; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    echo "$name: $jar needs building and Maven (mvn) is not installed; see README.md" >&2
    exit 127
  fi
  echo "$name: building $jar ..." >&2
  log=$(mktemp)
  # Maven's output is kept for a failure only (quiet Maven 3.8 still prints colour resets).
  if ! (cd "$root" && JAVA_HOME="$jdk" mvn -q -B package -DskipTests -pl "$module" -am >"$log" 2>&1); then
    cat "$log" >&2
    rm -f "$log"
    echo "$name: build failed" >&2
    exit 1
  fi
  rm -f "$log"
}
