/* SPDX-License-Identifier: MIT */
/*
 * Restoring a dumped memory image into a live process, shared by the two
 * restore modes: in place (-t PID, restore_inplace.c) and into a new
 * process (restore_new.c). The building blocks below work on any
 * ptrace-stopped process whose cgroup is thawed; they never freeze,
 * release or kill it themselves.
 *
 * Order (both modes):
 *   restore_ctx_open() -> restore_check_image()      nothing touched yet
 *   freeze / create the process -> restore_attach()  restore_check_threads()
 *   restore_layout() -> restore_pages() -> restore_madvise()
 *   inject_release() of the session -> restore_regs() -> release
 *
 * restore_check_image() is the gate: it checks arch, page size, vdso and
 * vvar sizes and decompresses every frame the restore will read, checking
 * every checksum, so a corrupt image is refused before the target is
 * touched. After restore_attach() the target may be modified: c->done
 * records which steps completed and restore_report_state() says exactly
 * what was and wasn't restored.
 *
 * Hostile images: img_mem_load() checks that runs lie inside VMAs; every
 * write here is also checked against the image VMA list before it is
 * issued. Every function returns 0 or -errno and reports its error once.
 */
#ifndef CM_RESTORE_H
#define CM_RESTORE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "img.h"

struct inject;
struct freeze;
struct guard;
struct json_out;

/* Command line of "criu-mem restore" (CRIU-style names). */
struct restore_opts {
	const char *images_dir;		/* -D/--images-dir */
	pid_t tree_pid;			/* -t/--tree: in place into this pid; 0: new process */
	int detached;			/* -d/--restore-detached (new process) */
	const char *pidfile;		/* --pidfile: write the restored pid there */
	int pid_mismatch_ok;		/* --pid-mismatch-ok (new process: tids may differ) */
	int force;			/* --force: skip the exe path / build id check */
	int kill_on_error;		/* --kill-on-error: SIGKILL the target on late failure */
	int json;			/* --json: summary as JSON on stdout */
	unsigned int threads;		/* --threads: decompression workers, 0 = online CPUs */
	const char *freeze_cgroup;	/* --freeze-cgroup (in place) */
	int no_progress;		/* no progress bar */
	int full_verify;		/* --full-verify: decompress every frame in the gate */

	/* New process only (restore_new.c): where its fds come from. */
	const char *std_path[3];	/* --stdin/--stdout/--stderr FILE: fd 0/1/2 opened
					 * from FILE (out/err: append, created 0600) */
	const struct restore_inherit_fd *inherit_fds;	/* --inherit-fd fd[FROM]:FD, repeatable */
	size_t nr_inherit_fds;
	int skip_unsupported_fds;	/* --skip-unsupported-fds: leave such fds closed */
};

/*
 * --inherit-fd fd[FROM]:FD: the restored process's fd FD is criu-mem's own
 * fd FROM (e.g. a pipe the caller holds). Without it fds 0, 1 and 2 are
 * inherited from criu-mem unless --stdin/--stdout/--stderr redirect them.
 */
struct restore_inherit_fd {
	int from;
	int fd;
};

/* Steps of a restore, as bits of restore_ctx.done / .started. */
enum restore_step {
	RST_VERIFIED = 1 << 0,	/* image verified, nothing touched */
	RST_ATTACHED = 1 << 1,	/* target stopped, thread set matched */
	RST_LAYOUT = 1 << 2,	/* VMAs, prot and brk equal to the image */
	RST_PAGES = 1 << 3,	/* contents written / zeroed */
	RST_MADVISE = 1 << 4,	/* madvise state and guard regions */
	RST_REGS = 1 << 5,	/* registers and sigmask of every thread */
};

struct restore_stats {
	uint64_t pages_written;		/* stored pages written with process_vm_writev */
	uint64_t pages_zeroed;		/* pages discarded or zeroed (image zero or absent) */
	uint64_t bytes_written;
	uint64_t writev_calls, proc_mem_writes, dontneed_calls;
	uint64_t frames;
	uint64_t vmas_unmapped, vmas_mapped, vmas_mprotected, madvise_calls;
	uint64_t guards_installed, guards_removed;
	uint64_t threads;
	uint64_t t_verify_ns, t_freeze_ns, t_layout_ns, t_pages_ns, t_madvise_ns, t_regs_ns;
	uint64_t t_total_ns;
	uint64_t t_stopped_ns;		/* how long the target was stopped */
};

struct restore_ctx {
	const struct restore_opts *opts;
	struct img_dir *dir;
	InventoryEntry *inv;
	struct img_mem *mem;		/* the image's root process */
	size_t page_size;
	unsigned int threads;		/* decompression workers */

	/* Set by restore_attach(); the process being written. */
	pid_t pid;
	int mem_fd;			/* /proc/PID/mem, O_RDWR, -1 before attach */
	int pidfd;			/* -1 when unavailable */
	struct inject *inj;		/* session on a stopped thread, owned by the caller */
	const struct freeze *fz;	/* for freeze_interrupted(), or NULL */
	uint64_t scratch_addr;		/* restore's own scratch mapping in the target, 0 if none */
	size_t scratch_len;

	unsigned int done;		/* enum restore_step bits completed */
	unsigned int started;		/* enum restore_step bits begun */
	uint64_t first_fail_addr;	/* where pages stopped, for the report */
	int inject_broken;		/* the injection machinery failed: stop injecting */
	struct guard *guard;		/* undo log of the session (guard.h), or NULL */
	int guard_sig;			/* death signal to arm at the point of no return,
					 * 0 once armed (restore_guard_arm()) */
	struct restore_stats st;
};

/*
 * Opens o->images_dir, reads the inventory and loads the root process's
 * img_mem. Nothing is verified beyond what img_mem_load() checks.
 */
int restore_ctx_open(struct restore_ctx *c, const struct restore_opts *o);
/* Frees everything restore_ctx_open() and restore_attach() took. Safe twice. */
void restore_ctx_release(struct restore_ctx *c);

/*
 * The gate before the point of no return. Checks the image against this
 * machine: arch, page size, [vdso]/[vvar] sizes (against our own), format,
 * PE_LAZY runs (refused), and decompresses every frame with all workers,
 * checking checksums and that every run fits. Returns 0, -EBADMSG for a
 * corrupt image, -EPROTONOSUPPORT for another arch/page size/vdso layout.
 */
int restore_check_image(struct restore_ctx *c);

/*
 * In-place only: checks that pid runs the image's program (exe path and
 * build id); -EPERM-like refusal as -EINVAL unless o->force.
 */
int restore_check_exe(struct restore_ctx *c, pid_t pid);

/*
 * Checks that the set of tids equals the image's threads (same count, every
 * tid found). Returns 0 or -ESRCH with a message listing the difference.
 */
int restore_check_threads(const struct restore_ctx *c, const pid_t *tids, size_t nr);

/*
 * Checks that the image's xstate blobs have the size this CPU uses, reading
 * it from stopped thread tid. -EPROTONOSUPPORT when not.
 */
int restore_check_xstate(const struct restore_ctx *c, pid_t tid);

/*
 * Binds the context to a stopped process: opens /proc/PID/mem and keeps
 * @in (an inject session started by the caller with inject_init() on one
 * stopped thread; the caller releases it after restore_madvise()).
 */
int restore_attach(struct restore_ctx *c, pid_t pid, struct inject *in);

/*
 * Makes the layout equal to the image: restores brk, unmaps live ranges the
 * image does not have (or has with another backing), fixes prot, sets the
 * madvise-settable VmFlags of the kept VMAs, removes guard regions, then
 * maps the image's missing VMAs at their addresses (anonymous, memfd, or
 * file mappings reopened from path/pgoff) and gives them their flags before
 * any page is written, so that they merge with their neighbours as at dump
 * time; a private image VMA still split in several live VMAs is made again.
 * [vdso], [vvar] and [vsyscall] are never touched: their addresses must
 * match the image (checked before anything is changed, as is every file to
 * reopen). The VMA holding the injection's syscall instruction is never
 * unmapped. Uses an injected scratch page placed in a gap of both layouts
 * and removes it before returning.
 */
int restore_layout(struct restore_ctx *c);

/*
 * Writes the contents: stored pages with process_vm_writev in batches of up
 * to 1024 iovecs (read-only VMAs through /proc/PID/mem), overlapped with
 * parallel decompression (img_mem_foreach_frame); image zero runs and pages
 * absent from the image but present now are discarded with injected
 * MADV_DONTNEED (private), MADV_REMOVE or written zeros (shared).
 * THP VMAs get MADV_HUGEPAGE before writing when the image VMA had it.
 * Every address is checked against the image VMAs first.
 */
int restore_pages(struct restore_ctx *c);

/*
 * After the pages: collapses VMAs that were THP-backed at dump time and have
 * no huge page now (process_madvise(MADV_COLLAPSE)), re-checks their flags,
 * and installs the image's guard regions (MADV_GUARD_INSTALL). The flags
 * themselves (vmflag_table: DONTFORK, DONTDUMP, HUGEPAGE/NOHUGEPAGE,
 * WIPEONFORK, MERGEABLE, SEQ/RAND, and the inverse advice for flags the live
 * VMA has but the image doesn't) are set by restore_layout().
 */
int restore_madvise(struct restore_ctx *c);

/*
 * restore_layout(), restore_pages() then restore_madvise(), stopping at the
 * first failure; times the layout and madvise steps into c->st. The guard
 * (in-place mode) is armed with its death signal before pages are written.
 */
int restore_memory(struct restore_ctx *c);

/*
 * Sets GPRs, xstate, fs/gs base and the signal mask of every thread, matched
 * by tid (c->mem->threads[i]->tid). Must run after the inject session is
 * released (inject_release() would overwrite the leader's registers).
 */
int restore_regs(struct restore_ctx *c);
/* The same for one thread whose tid may differ from the image's (new process). */
int restore_thread_regs(pid_t tid, const ThreadCore *tc);

/*
 * Runs syscall nr inside the target through c->inj. Returns the syscall's
 * result (>= 0 or -errno). A failure of the injection itself is logged
 * here and sets c->inject_broken.
 */
long restore_inject(struct restore_ctx *c, long nr, unsigned long a0, unsigned long a1,
		    unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);

/*
 * Once the restore has started to change the target (c->started != 0),
 * tells c->guard to send c->guard_sig to the target if criu-mem dies, so
 * that a half-restored process never runs on. No-op before that, without a
 * guard, and once armed. restore_inject() calls it before every injection.
 */
void restore_guard_arm(struct restore_ctx *c);

/* Prints "restored: N pages written, N zeroed, ..." (or JSON when o->json). */
void restore_print_summary(const struct restore_ctx *c, FILE *f);
/* After a late failure: what was and wasn't restored, one line per step. */
void restore_report_state(const struct restore_ctx *c, int err);

/* In-place mode: criu-mem restore -D DIR -t PID (restore_inplace.c). */
int restore_inplace(const struct restore_opts *o);
/*
 * New-process mode: criu-mem restore -D DIR (restore_new.c). Returns -errno
 * on failure (the half-built process is killed). Detached (-d): 0 once the
 * process runs. Otherwise it waits and returns the process's exit status
 * (0-255, 128+signal when killed), which cmd_restore passes on as is.
 */
int restore_new(const struct restore_opts *o);

#endif
