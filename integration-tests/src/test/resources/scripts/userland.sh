# Debian's dynamically linked userland, run by the dynamic /bin/bash: coreutils, findutils,
# grep, sed, mawk, tar with a gzip child, python3, perl, sqlite3 and git. Every line it prints
# is the same natively and under the vkernel (DynamicProgramsTest compares them), so nothing
# here may depend on the time, the pid or the temporary directory's name.
set -u
PATH=/usr/local/bin:/usr/bin:/bin  # Debian's programs, not the busybox applets the tests put first
work=$(mktemp -d) || exit 1
cd "$work" || exit 1
step() { echo "-- $1: status $2"; }

ls -l /etc; step "ls -l /etc" $?
sort -t: -k3,3n /etc/passwd | head -3; step sort $?
find /usr/share/doc -name copyright | wc -l; step find $?
grep -r -l -i "free software" /usr/share/doc/bash /usr/share/doc/coreutils | sort; step "grep -r" $?
sed -n 's/^\([a-z]*\):.*/user \1/p' /etc/passwd | head -2; step sed $?
printf 'b 2\na 1\nc 3\n' | mawk '{ s += $2; n = n $1 } END { print n, s }'; step awk $?
mkdir -p tree/sub && echo one > tree/a && echo two > tree/sub/b && tar czf tree.tgz tree; step "tar czf" $?
tar tzf tree.tgz | sort; step "tar tzf" $?
sha256sum tree/a tree/sub/b; step sha256sum $?
printf '%s\n' 1 2 3 4 5 | xargs -n2 echo; step xargs $?
date -d @0 -u; step date $?

python3 -c '
import hashlib, json, os, re, subprocess
print(json.dumps({"b": [1, 2], "a": None}, sort_keys=True))
print(hashlib.sha256(b"vmspace").hexdigest())
print(re.findall(r"[a-z]+\d", "ab1 cd2 ef"))
r = subprocess.run(["ls", "/etc/passwd"], capture_output=True)
print(r.returncode, r.stdout)
print(sorted(n for n in os.listdir(".") if not n.startswith(".")))
with open("py.txt", "w") as f:
    f.write("written by python\n")
print(open("py.txt").read(), end="")
'; step "python3 -c" $?
mkdir -p pkg && printf 'def f():\n    return 42\n' > pkg/m.py && printf 'X = 1\n' > pkg/n.py
python3 -m compileall -q pkg; step "python3 -m compileall" $?
ls pkg/__pycache__ | sort

perl -e '
my %h = (pear => 3, apple => 1, fig => 2);
print join(",", map { "$_=$h{$_}" } sort keys %h), "\n";
print "matched $1\n" if "version 5.36.0" =~ /(\d+\.\d+)/;
open(my $fh, "<", "/etc/passwd") or die; my $n = 0; $n++ while <$fh>; close $fh;
print $n > 0 ? "read passwd\n" : "empty\n";
'; step "perl -e" $?

{ echo "create table t(a integer, b text); begin;"
  seq 1 10000 | sed 's/.*/insert into t values(&, "row &");/'
  echo "commit; select count(*), sum(a), max(b) from t where a % 2 = 0;"; } | sqlite3 db.sqlite; step sqlite3 $?

export GIT_AUTHOR_NAME=vkernel GIT_AUTHOR_EMAIL=vk@example.org GIT_COMMITTER_NAME=vkernel \
  GIT_COMMITTER_EMAIL=vk@example.org GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
  GIT_CONFIG_NOSYSTEM=1 HOME="$work"
git init -q -b main repo && cd repo && echo hello > f && git add f && git commit -q -m first \
  && echo more >> f && git commit -q -a -m second && git log --oneline; step git $?
cd "$work" && rm -rf "$work"; step cleanup $?
