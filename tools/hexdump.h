/* SPDX-License-Identifier: MIT */
/*
 * xxd-like hexdump lines with process addresses. Bytes missing from the
 * image print as "--" in the hex columns and as a space in the text column,
 * so absent memory is never shown as invented zeros.
 */
#ifndef CM_HEXDUMP_H
#define CM_HEXDUMP_H

#include <stddef.h>
#include <stdint.h>

#define HEXDUMP_WIDTH		16
#define HEXDUMP_LINE_MAX	96

/*
 * Formats one line of n (<= HEXDUMP_WIDTH) bytes at addr into out (at least
 * HEXDUMP_LINE_MAX bytes), NUL-terminated, without a newline. absent[i]
 * nonzero marks byte i missing; absent may be NULL. Returns the length.
 */
size_t hexdump_line(char *out, uint64_t addr, const uint8_t *p, size_t n, const uint8_t *absent);

#endif
