# The vkernel's side of a server and a client that talk across its boundary (NetworkProgramsTest):
# python3's http.server inside, serving site/ on 127.0.0.1, which the test fetches from outside;
# busybox wget inside, fetching from the test's own HTTP server at port $1. The test says it is
# done with the server by writing a line to this script's stdin.
set -u
site=$PWD/site
# The vkernel's default root is read-only but for a private /tmp: the log goes there.
work=$(mktemp -d) || exit 1
cd "$work" || exit 1
python3 -u -m http.server --bind 127.0.0.1 --directory "$site" 0 >server.log 2>&1 &
server=$!
i=0
until port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\) .*/\1/p' server.log) && [ -n "$port" ]; do
  i=$((i + 1))
  [ "$i" -lt 3000 ] || { echo "no http.server after 300 s"; cat server.log; kill "$server"; exit 1; }
  sleep 0.1
done
echo "serving on port $port"
/bin/busybox wget -q -O - "http://127.0.0.1:$1/outside.txt"; echo "-- wget from the host: status $?"
read -r done
kill "$server"; wait "$server" 2>/dev/null; echo "-- http.server: ended by signal $(($? - 128))"
echo "requests logged: $(grep -c '"GET /inside.txt HTTP/1.1" 200' server.log)"
cd / && rm -r "$work"
