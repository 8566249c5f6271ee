# embed.cmake -DIN=file -DOUT=file.c -DSYM=name: writes `const char name[]` (the bytes of IN and a NUL) and
# `const size_t name_len` (without the NUL) to OUT.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed.cmake; do not edit. */\n#include <stddef.h>\n"
                  "extern const char ${SYM}[];\nextern const size_t ${SYM}_len;\n"
                  "const char ${SYM}[] = {\n${bytes}0x00 };\nconst size_t ${SYM}_len = ${len};\n")
