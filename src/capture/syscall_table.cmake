# Turns the kernel UAPI header that numbers the x86_64 syscalls (asm/unistd_64.h, lines
# "#define __NR_<name> <nr>") into a C++ table fragment, so the syscall names capture writes
# into the trace database come from the headers, not from a hand-typed list.
# Usage: cmake -DUNISTD=<unistd_64.h> -DOUT=<file.inc> -P syscall_table.cmake
file(STRINGS "${UNISTD}" lines REGEX "^#define __NR_[a-z0-9_]+[ \t]+[0-9]+")
set(body "// Generated from ${UNISTD} by src/capture/syscall_table.cmake; do not edit.\n")
set(count 0)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^#define __NR_([a-z0-9_]+)[ \t]+([0-9]+).*$" "{\\2, \"\\1\"}," entry "${line}")
  string(APPEND body "${entry}\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count LESS 300)
  message(FATAL_ERROR "${UNISTD} defines only ${count} syscall numbers; expected the x86_64 table (300+).")
endif()
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
