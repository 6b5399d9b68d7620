#!/bin/sh
# Assembles the test guest programs: each NAME.S becomes NAME.bin (the flat image of its
# sections, linked at 0x400000) and NAME.sym (its symbols, "address name" per line).
# Usage: build.sh SRC_DIR OUT_DIR. Needs GNU binutils (as, ld, objcopy, nm).
set -eu
src=$1
out=$2
mkdir -p "$out"
for s in "$src"/*.S; do
  name=$(basename "$s" .S)
  as --64 -o "$out/$name.o" "$s"
  ld -m elf_x86_64 -nostdlib -static -Ttext=0x400000 -e 0x400000 -o "$out/$name.elf" "$out/$name.o"
  objcopy -O binary -j .text "$out/$name.elf" "$out/$name.bin"
  nm "$out/$name.elf" | awk '$2 ~ /[Tt]/ { print $1, $3 }' > "$out/$name.sym"
  rm -f "$out/$name.o" "$out/$name.elf"
done
