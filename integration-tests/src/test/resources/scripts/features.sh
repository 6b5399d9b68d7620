# A shell script with the features shells are used for; the same on every shell tested.
greet() { echo "hello, $1"; }
sum=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  sum=$((sum + i))
done
echo "sum=$sum"
greet "$(echo world | tr a-z A-Z)"
n=0
while [ $n -lt 3 ]; do n=$((n + 1)); done
echo "n=$n"
( cd /; echo "in subshell: $(pwd)" )
echo "after subshell: $(basename "$(pwd)")"
cat <<END | sed 's/^/| /'
line one
line two with $sum
END
words=$(printf 'a b c\nd e\n' | wc -w)
echo "words=$((words + 0))"
trap 'echo trapped USR1' USR1
kill -USR1 $$
trap 'echo bye from trap' EXIT
case "$sum" in 55) echo "case ok";; *) echo "case bad";; esac
sleep 0.1 &
wait $!
echo "background status $?"
if false; then echo no; elif true; then echo elif-yes; fi
i=0
until [ $i -ge 20 ]; do i=$((i + 1)); done | cat
echo "$(seq 1 5 | sort -r | head -n 2 | tr '\n' ' ')"
result=$( { echo out; echo err >&2; } 2>&1 | sort )
echo "grouped: $result"
echo done
