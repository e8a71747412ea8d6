// SPDX-License-Identifier: MIT
/*
 * imgopen.c: opening an image directory (and one process's memory) for the
 * inspection commands, their -p/--help handling and VMA permission strings.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "addr.h"
#include "cli.h"
#include "imgopen.h"
#include "log.h"

/* The library's message names the file; ours only when it has none. */
static const char *imgopen_msg(char *buf, size_t len, const char *what, const char *path)
{
	if (*img_strerror())
		return img_strerror();
	snprintf(buf, len, "%s of '%s'", what, path);
	return buf;
}

int imgopen_dir(struct imgopen *io, const char *path)
{
	char msg[512];
	int ret;

	memset(io, 0, sizeof(*io));
	ret = img_dir_open(path, &io->dir);
	if (ret)
		return cm_err(ret, "%s", imgopen_msg(msg, sizeof(msg),
						     "cannot open image directory", path));
	ret = img_inventory_read(io->dir, &io->inv);
	if (ret)
		return cm_err(ret, "%s", imgopen_msg(msg, sizeof(msg), "cannot read the inventory",
						     path));
	return 0;
}

int imgopen_proc(struct imgopen *io, const char *path, unsigned int pid)
{
	char msg[512];
	int ret;

	ret = imgopen_dir(io, path);
	if (ret)
		goto err;
	if (!pid)
		pid = io->inv->root_pid;
	ret = img_mem_load(io->dir, pid, &io->mem);
	if (ret) {
		cm_err(ret, "pid %u: %s", pid, imgopen_msg(msg, sizeof(msg),
							  "cannot load the memory", path));
		goto err;
	}
	return 0;
err:
	imgopen_close(io);
	return ret;
}

void imgopen_close(struct imgopen *io)
{
	img_mem_free(io->mem);
	if (io->inv)
		inventory_entry__free_unpacked(io->inv, NULL);
	img_dir_free(io->dir);
	memset(io, 0, sizeof(*io));
}

int imgopen_pid_arg(const char *arg, unsigned int *pid)
{
	uint64_t v;

	if (addr_parse_u64(arg, &v) || !v || v > UINT32_MAX) {
		pr_err("bad pid '%s'", arg);
		return -EINVAL;
	}
	*pid = (unsigned int)v;
	return 0;
}

int imgopen_usage(int opt, void (*usage)(FILE *f))
{
	usage(opt == 'h' ? stdout : stderr);
	return opt == 'h' ? CM_EXIT_OK : CM_EXIT_USAGE;
}

void imgopen_perms(const VmaEntry *v, char out[5])
{
	out[0] = v->prot & PROT_READ ? 'r' : '-';
	out[1] = v->prot & PROT_WRITE ? 'w' : '-';
	out[2] = v->prot & PROT_EXEC ? 'x' : '-';
	out[3] = v->flags & MAP_SHARED ? 's' : 'p';
	out[4] = 0;
}
