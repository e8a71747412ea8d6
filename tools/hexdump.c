// SPDX-License-Identifier: MIT
/*
 * hexdump.c: formats xxd-like lines ("addr: 4865 6c6c ...  Hel.") with
 * markers for bytes that the image does not hold.
 */
#include "hexdump.h"

size_t hexdump_line(char *out, uint64_t addr, const uint8_t *p, size_t n, const uint8_t *absent)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	int sh;

	if (n > HEXDUMP_WIDTH)
		n = HEXDUMP_WIDTH;
	for (sh = (addr >> 48) ? 60 : 44; sh >= 0; sh -= 4)	/* 12 or 16 digits */
		out[o++] = hex[(addr >> sh) & 15];
	out[o++] = ':';
	out[o++] = ' ';
	for (i = 0; i < HEXDUMP_WIDTH; i++) {
		if (i >= n) {
			out[o++] = ' ';
			out[o++] = ' ';
		} else if (absent && absent[i]) {
			out[o++] = '-';
			out[o++] = '-';
		} else {
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
		}
		if (i & 1)
			out[o++] = ' ';
	}
	out[o++] = ' ';
	for (i = 0; i < n; i++) {
		if (absent && absent[i])
			out[o++] = ' ';
		else
			out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';
	}
	out[o] = 0;
	return o;
}
