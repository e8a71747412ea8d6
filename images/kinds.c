// SPDX-License-Identifier: MIT
/*
 * kinds.c: the one table of image kinds (name, file name, magic, protobuf
 * descriptors) and the per-thread error message of the library.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "img: "
#include "imgint.h"
#include "log.h"
#include "util.h"

static const struct img_kind_desc img_kinds[] = {
	{ IMG_INVENTORY, "inventory", "inventory.img", 0x564e4943u /* CINV */,
	  &inventory_entry__descriptor, NULL },
	{ IMG_MM, "mm", "mm-%u.img", 0x4d4d4d43u /* CMMM */, &mm_entry__descriptor,
	  &vma_entry__descriptor },
	{ IMG_PAGEMAP, "pagemap", "pagemap-%u.img", 0x504d5043u /* CPMP */,
	  &pagemap_head__descriptor, &pagemap_entry__descriptor },
	{ IMG_PAGEIDX, "pageidx", "pageidx-%u.img", 0x58495043u /* CPIX */, NULL,
	  &frame_entry__descriptor },
	{ IMG_CORE, "core", "core-%u.img", 0x524f4343u /* CCOR */, &task_core__descriptor,
	  &thread_core__descriptor },
	{ IMG_FILES, "files", "files-%u.img", 0x4c494643u /* CFIL */, NULL,
	  &fd_entry__descriptor },
	{ IMG_PAGES, "pages", "pages-%u.img", 0x53475043u /* CPGS */, NULL, NULL },
};

const struct img_kind_desc *img_kind_get(enum img_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(img_kinds); i++)
		if (img_kinds[i].kind == kind)
			return &img_kinds[i];
	return NULL;
}

const struct img_kind_desc *img_kind_by_magic(uint32_t magic)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(img_kinds); i++)
		if (img_kinds[i].magic == magic)
			return &img_kinds[i];
	return NULL;
}

int img_kind_filename(enum img_kind kind, unsigned int pid, char *buf, size_t len)
{
	const struct img_kind_desc *k = img_kind_get(kind);
	const char *pct;
	int n;

	if (!k)
		return -EINVAL;
	pct = strstr(k->file_fmt, "%u");
	if (pct)
		n = snprintf(buf, len, "%.*s%u%s", (int)(pct - k->file_fmt), k->file_fmt, pid,
			     pct + 2);
	else
		n = snprintf(buf, len, "%s", k->file_fmt);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int img_kind_from_name(const char *name, unsigned int *pid)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(img_kinds); i++) {
		const char *fmt = img_kinds[i].file_fmt, *pct = strstr(fmt, "%u");
		size_t pre;
		unsigned long v;
		char *end;

		if (!pct) {
			if (!strcmp(name, fmt)) {
				if (pid)
					*pid = 0;
				return img_kinds[i].kind;
			}
			continue;
		}
		pre = pct - fmt;
		if (strncmp(name, fmt, pre) || name[pre] < '0' || name[pre] > '9')
			continue;
		errno = 0;
		v = strtoul(name + pre, &end, 10);
		if (errno || v > 0xffffffffu || strcmp(end, pct + 2))
			continue;
		if (pid)
			*pid = v;
		return img_kinds[i].kind;
	}
	return -1;
}

static __thread char img_errbuf[512];

const char *img_strerror(void)
{
	return img_errbuf;
}

int img_err(int err, const char *fmt, ...)
{
	char tmp[sizeof(img_errbuf)];
	va_list ap;

	/* Through tmp: the arguments may point into img_errbuf itself. */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(img_errbuf, tmp, sizeof(tmp));
	pr_debug("%s: %s", img_errbuf, strerror(err < 0 ? -err : err));
	return err;
}
