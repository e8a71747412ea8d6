// SPDX-License-Identifier: MIT
/*
 * cmd_dump.c: "criu-mem dump" options (CRIU names), the summary line and
 * --json output. The work itself is dump_run() in dump.c.
 */
#define LOG_PREFIX "dump: "

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliopt.h"
#include "dump.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "xfer.h"

enum {
	OPT_LEAVE = 256, OPT_PREV, OPT_XFER, OPT_LEVEL, OPT_NOCOMP, OPT_CGROUP,
	OPT_JSON, OPT_PAGEOUT, OPT_SKIPFD, OPT_SKIPVMA, OPT_PAGESIZE, OPT_NOFSYNC,
	OPT_NOPROGRESS,
};

static const struct option dump_longopts[] = {
	{ "tree", required_argument, NULL, 't' },
	{ "images-dir", required_argument, NULL, 'D' },
	{ "leave-running", no_argument, NULL, OPT_LEAVE },
	{ "prev-images-dir", required_argument, NULL, OPT_PREV },
	{ "xfer", required_argument, NULL, OPT_XFER },
	{ "compress-level", required_argument, NULL, OPT_LEVEL },
	{ "no-compress", no_argument, NULL, OPT_NOCOMP },
	{ "jobs", required_argument, NULL, 'j' },
	{ "threads", required_argument, NULL, 'j' },
	{ "freeze-cgroup", required_argument, NULL, OPT_CGROUP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pageout", no_argument, NULL, OPT_PAGEOUT },
	{ "skip-unsupported-fds", no_argument, NULL, OPT_SKIPFD },
	{ "skip-unsupported-vmas", no_argument, NULL, OPT_SKIPVMA },
	{ "page-size", required_argument, NULL, OPT_PAGESIZE },
	{ "no-fsync", no_argument, NULL, OPT_NOFSYNC },
	{ "no-progress", no_argument, NULL, OPT_NOPROGRESS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void dump_usage(FILE *f)
{
	fprintf(f,
		"usage: criu-mem dump -t PID -D DIR [options]\n\n"
		"Checkpoints the memory, registers and fds of a live process into DIR.\n"
		"The target is killed after a successful dump unless --leave-running.\n\n"
		"  -t, --tree PID              process to dump\n"
		"  -D, --images-dir DIR        image directory (must not exist or be empty)\n"
		"  -R, --leave-running         keep the target running after the dump\n"
		"      --xfer vmsplice|readv   page transfer backend (default %s)\n"
		"      --compress-level N      zstd level (default 1)\n"
		"      --no-compress           store pages raw\n"
		"  -j, --jobs N                compression threads (default: online CPUs);\n"
		"                              --threads N is the same\n"
		"      --freeze-cgroup PATH    freeze through this cgroup (v2 or v1 freezer)\n"
		"      --prev-images-dir DIR   parent image (relative to -D): pages equal to\n"
		"                              the parent's are stored as references\n"
		"      --pageout               MADV_PAGEOUT the target after --leave-running\n"
		"      --skip-unsupported-fds  record unsupported fds instead of failing\n"
		"      --skip-unsupported-vmas record VM_IO/PFNMAP VMAs without their data\n"
		"      --page-size N           refuse to run unless the page size is N\n"
		"      --no-fsync              do not fsync the images (tests)\n"
		"      --no-progress           no progress bar\n"
		"      --json                  print the summary as JSON on stdout\n"
		"  -h, --help                  this text\n\n"
		"exit codes: 0 ok, 1 failure, 2 usage, 4 target missing/zombie/traced/no permission\n",
		xfer_default_name());
}

struct dump_cli {
	struct dump_opts o;
	int json, pid_given;
};

static int parse_one(void *ctx, int opt, const char *arg)
{
	struct dump_cli *c = ctx;
	long v;

	switch (opt) {
	case 't':
		if (cliopt_long(arg, "pid", 1, INT_MAX, &v))
			return -EINVAL;
		c->o.pid = v;
		c->pid_given = 1;
		return 0;
	case 'D': c->o.dir = arg; return 0;
	case 'R':
	case OPT_LEAVE: c->o.leave_running = 1; return 0;
	case OPT_PREV: c->o.prev_dir = arg; return 0;
	case OPT_XFER:
		if (!xfer_find(arg)) {
			pr_err("unknown --xfer '%s' (vmsplice or readv)", arg);
			return -EINVAL;
		}
		c->o.xfer = arg;
		return 0;
	case OPT_LEVEL:
		if (cliopt_long(arg, "compression level", -7, 22, &v))
			return -EINVAL;
		c->o.level = v;
		return 0;
	case OPT_NOCOMP: c->o.no_compress = 1; return 0;
	case 'j':
		return cliopt_jobs(arg, &c->o.threads);
	case OPT_CGROUP: c->o.freeze_cgroup = arg; return 0;
	case OPT_JSON: c->json = 1; return 0;
	case OPT_PAGEOUT: c->o.pageout = 1; return 0;
	case OPT_SKIPFD: c->o.skip_unsupported_fds = 1; return 0;
	case OPT_SKIPVMA: c->o.skip_unsupported_vmas = 1; return 0;
	case OPT_NOFSYNC: c->o.no_fsync = 1; return 0;
	case OPT_NOPROGRESS: c->o.progress = 0; return 0;
	case OPT_PAGESIZE:
		if (cliopt_long(arg, "page size", 1, LONG_MAX, &v))
			return -EINVAL;
		if ((size_t)v != page_size()) {
			pr_err("--page-size %ld does not match this kernel's page size %zu", v,
			       page_size());
			return -EINVAL;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

static void print_json(const struct dump_cli *c, const struct dump_result *r)
{
	struct json_out j;
	double secs = r->wall_ns / 1e9;

	json_init(&j, stdout, 0);
	json_obj_begin(&j, NULL);
	json_u64(&j, "pid", c->o.pid);
	json_str(&j, "images_dir", c->o.dir);
	json_str(&j, "xfer", r->xfer);
	json_double(&j, "frozen_ms", r->frozen_ns / 1e6);
	json_double(&j, "wall_ms", r->wall_ns / 1e6);
	json_u64(&j, "pages_scanned", r->pages_scanned);
	json_u64(&j, "pages_stored", r->pages_stored);
	json_u64(&j, "pages_zero", r->pages_zero);
	json_u64(&j, "pages_parent", r->pages_parent);
	json_u64(&j, "pages_skipped", r->pages_skipped);
	json_u64(&j, "pages_mem", r->pages_mem);
	json_u64(&j, "bytes_raw", r->bytes_raw);
	json_u64(&j, "bytes_stored", r->bytes_stored);
	json_double(&j, "ratio", r->bytes_stored ? (double)r->bytes_raw / r->bytes_stored : 0);
	json_double(&j, "throughput_bps", secs > 0 ? r->bytes_raw / secs : 0);
	json_u64(&j, "vmas", r->nr_vmas);
	json_u64(&j, "threads", r->nr_threads);
	json_u64(&j, "frames", r->frames);
	json_bool(&j, "leave_running", c->o.leave_running);
	json_bool(&j, "killed", r->killed);
	json_obj_end(&j);
	json_finish(&j);
}

static void print_summary(const struct dump_cli *c, const struct dump_result *r)
{
	char raw[32], st[32], tp[32], parent[48] = "";
	double secs = r->wall_ns / 1e9;

	cliopt_human(r->bytes_raw, raw, sizeof(raw));
	cliopt_human(r->bytes_stored, st, sizeof(st));
	cliopt_human(secs > 0 ? r->bytes_raw / secs : 0, tp, sizeof(tp));
	if (c->o.prev_dir)
		snprintf(parent, sizeof(parent), " parent %llu", (unsigned long long)r->pages_parent);
	printf("dump: pid %d: frozen %.1f ms, pages scanned %llu stored %llu zero %llu%s "
	       "skipped %llu, %s raw -> %s (%.2fx), %s/s, %.1f ms, xfer %s%s\n",
	       (int)c->o.pid, r->frozen_ns / 1e6, (unsigned long long)r->pages_scanned,
	       (unsigned long long)r->pages_stored, (unsigned long long)r->pages_zero, parent,
	       (unsigned long long)r->pages_skipped, raw, st,
	       r->bytes_stored ? (double)r->bytes_raw / r->bytes_stored : 0.0, tp,
	       r->wall_ns / 1e6, r->xfer, r->killed ? ", target killed" : "");
}

int cmd_dump(int argc, char **argv)
{
	struct dump_cli c = { .o = { .level = 1, .progress = 1 } };
	struct dump_result r;
	int ret;

	ret = cliopt_getopt(argc, argv, "t:D:Rj:h", dump_longopts, parse_one, &c, dump_usage);
	if (ret >= 0)
		return ret;
	if (optind < argc || !c.pid_given || !c.o.dir) {
		pr_err("%s", optind < argc ? "unexpected argument" : "-t PID and -D DIR are required");
		dump_usage(stderr);
		return CM_EXIT_USAGE;
	}
	if (c.json)
		c.o.progress = 0;
	ret = dump_run(&c.o, &r);
	if (ret)
		return ret == -EINVAL ? CM_EXIT_FAIL : cm_exit_code(ret);
	if (c.json)
		print_json(&c, &r);
	else
		print_summary(&c, &r);
	return CM_EXIT_OK;
}
