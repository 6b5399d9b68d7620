#!/fuzz/static.elf
