# Servers and clients over IP and UNIX sockets inside one process tree, run by the dynamic
# /bin/bash: python3's http.server with busybox wget, busybox nc listening and connecting over
# TCP, and netcat-openbsd over a UNIX socket. Every line it prints is the same natively and under
# the vkernel (NetworkProgramsTest compares them): nothing depends on the port, pid or time.
set -u
# The vkernel's default root is read-only but for a private /tmp: work there.
work=$(mktemp -d) || exit 1
cd "$work" || exit 1
step() { echo "-- $1: status $2"; }

# A loopback port nobody listens on (bash's /dev/tcp connect fails on a free one).
free_port() {
  p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

mkdir -p site && printf 'served by python3\n' > site/index.txt

# python3's http.server on 127.0.0.1 at a port the kernel picks; busybox wget fetches from it.
python3 -u -m http.server --bind 127.0.0.1 --directory site 0 >server.log 2>&1 &
server=$!
i=0
until port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\) .*/\1/p' server.log) && [ -n "$port" ]; do
  i=$((i + 1))
  [ "$i" -lt 3000 ] || { echo "no http.server after 300 s"; cat server.log; break; }
  sleep 0.1
done
/bin/busybox wget -q -O - "http://127.0.0.1:$port/index.txt"; step "http.server and busybox wget" $?
/bin/busybox wget -q -O - "http://127.0.0.1:$port/missing.txt" 2>/dev/null; step "wget of a missing file" $?
kill "$server"; wait "$server" 2>/dev/null; echo "-- http.server: ended by signal $(($? - 128))"
echo "requests logged: $(grep -c '"GET /index.txt HTTP/1.1" 200' server.log) ok, $(grep -c '"GET /missing.txt HTTP/1.1" 404' server.log) not found"

# busybox nc: a listener that answers, a client that retries until the listener is up.
port=$(free_port 39461)
echo "pong from the listener" | /bin/busybox nc -l -p "$port" >nc-got.txt &
listener=$!
i=0
until echo "ping from the client" | /bin/busybox nc 127.0.0.1 "$port" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -lt 3000 ] || { echo "no nc listener after 300 s"; break; }
  sleep 0.1
done
wait "$listener"; step "busybox nc -l" $?
cat nc-got.txt

# netcat-openbsd over a UNIX socket (busybox's nc has no UNIX sockets): -U listens on a path.
rm -f nc.sock
echo "reply over the UNIX socket" | nc.openbsd -N -lU nc.sock >unix-got.txt &
listener=$!
i=0
until [ -S nc.sock ]; do
  i=$((i + 1))
  [ "$i" -lt 3000 ] || { echo "no UNIX listener after 300 s"; break; }
  sleep 0.1
done
echo "request over the UNIX socket" | nc.openbsd -N -U nc.sock; step "nc.openbsd -U" $?
wait "$listener"; step "nc.openbsd -lU" $?
cat unix-got.txt
ls -l nc.sock | cut -c1
cd / && rm -r "$work"; step cleanup $?
