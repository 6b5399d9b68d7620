#!/fuzz/static.elf
echo hi
