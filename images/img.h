/* SPDX-License-Identifier: MIT */
/*
 * The image library: directories, record files and the page store.
 * See images/FORMAT.md for the bytes on disk.
 *
 * Error convention: every function returns 0 (or a count) on success and a
 * negative errno on failure:
 *   -EBADMSG          corrupt image (bad magic, checksum, framing, record)
 *   -EPROTONOSUPPORT  format version newer than this reader
 *   -EOVERFLOW        a length or count out of bounds / arithmetic overflow
 *   -ENOENT etc.      as from the system call that failed
 * The library never prints at a level above debug. The message describing
 * the last failure (naming file, record index and offset) is kept in the
 * object that failed and in a per-thread buffer readable with img_strerror().
 */
#ifndef CM_IMG_H
#define CM_IMG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "core.pb-c.h"
#include "fdinfo.pb-c.h"

#define IMG_FORMAT_VERSION	1
/* Upper bounds applied to anything read from an image. */
#define IMG_MAX_RECORD		(16u << 20)	/* one protobuf record */
#define IMG_MAX_FRAME_RAW	(16u << 20)	/* one page-store frame, raw */
#define IMG_MAX_RECORDS		(1ull << 26)	/* records in one file */

/* One table of image kinds drives the writer, the reader and the decoder. */
enum img_kind {
	IMG_INVENTORY = 1,	/* inventory.img: head inventory_entry */
	IMG_MM,			/* mm-PID.img: head mm_entry, entries vma_entry */
	IMG_PAGEMAP,		/* pagemap-PID.img: head pagemap_head, entries pagemap_entry */
	IMG_PAGEIDX,		/* pageidx-PID.img: entries frame_entry */
	IMG_CORE,		/* core-PID.img: head task_core, entries thread_core */
	IMG_FILES,		/* files-PID.img: entries fd_entry */
	IMG_PAGES,		/* pages-PID.img: page store, not a record file */
	IMG_KIND_MAX,
};

struct img_kind_desc {
	enum img_kind kind;
	const char *name;		/* "mm", "pagemap", ... */
	const char *file_fmt;		/* "mm-%u.img"; "%u" is the pid, or none */
	uint32_t magic;
	const ProtobufCMessageDescriptor *head;	 /* first record, or NULL */
	const ProtobufCMessageDescriptor *entry; /* every other record, or NULL */
};

/* Returns the descriptor of a kind, NULL when unknown. */
const struct img_kind_desc *img_kind_get(enum img_kind kind);
/* Looks a kind up by magic; NULL when unknown. */
const struct img_kind_desc *img_kind_by_magic(uint32_t magic);
/* Formats the file name of kind for pid into buf. Returns 0 or -ENAMETOOLONG. */
int img_kind_filename(enum img_kind kind, unsigned int pid, char *buf, size_t len);

/* Last error message of the calling thread ("" when none). */
const char *img_strerror(void);

/* Runs of the pagemap. */
enum pagemap_flags {
	PE_PRESENT = 1 << 0,	/* bytes in this image's page store at (frame, offset) */
	PE_ZERO = 1 << 1,	/* all-zero pages, nothing stored */
	PE_PARENT = 1 << 2,	/* bytes in the parent image */
	PE_LAZY = 1 << 3,	/* bytes on a page server, fetched on demand */
};

enum frame_flags {
	FRAME_ZSTD = 1 << 0,	/* payload is one zstd frame; else raw */
};

/* ------------------------------------------------------------------ */
/* Image directories                                                   */

enum img_dir_flags {
	IMG_DIR_NOFSYNC = 1 << 0,	/* skip fsync (tests, --no-fsync) */
};

struct img_dir;

/*
 * Starts a new image directory that will appear at @path only on commit.
 * Files are written into a fresh temporary sibling "PATH.tmp.XXXXXX"
 * (mode 0700). @path must not exist yet (-EEXIST), unless it is an empty
 * directory, which is then replaced.
 */
int img_dir_create(const char *path, unsigned int flags, struct img_dir **out);
/* Opens an existing directory for reading. */
int img_dir_open(const char *path, struct img_dir **out);
/*
 * Commits a directory from img_dir_create(): writes inventory.img from @inv
 * (its files[] list is filled here with name, kind, size and XXH3 of every
 * file the directory holds), fsyncs files and directory, renames it into
 * place and fsyncs the parent. All writers must be closed first.
 */
int img_dir_commit(struct img_dir *d, InventoryEntry *inv);
/* Frees; an uncommitted created directory is removed with its files. NULL ok. */
void img_dir_free(struct img_dir *d);
/* The dirfd used for openat() of the files inside (temp dir while writing). */
int img_dir_fd(const struct img_dir *d);
const char *img_dir_path(const struct img_dir *d);
/*
 * Opens @name inside the directory for writing: O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode 0600. Returns an fd or -errno.
 */
int img_dir_create_file(struct img_dir *d, const char *name);
/*
 * Added: records the size and XXH3 of file @name as computed by its writer,
 * so that commit need not read it back (used unless the size changed).
 */
int img_dir_file_hashed(struct img_dir *d, const char *name, uint64_t size, uint64_t xxh3);
/* Opens @name for reading with O_NOFOLLOW. Returns an fd or -errno. */
int img_dir_open_file(const struct img_dir *d, const char *name);

/* Added: size and XXH3-64 of a whole open file (pread from 0); fsyncs it when do_fsync. */
int img_file_hash(int fd, const char *name, int do_fsync, uint64_t *size, uint64_t *hash);
/*
 * XXH3-64 of a page-store frame payload (the frame_entry/frame header
 * checksum), with the CPU's fastest vector code (AVX2/AVX-512 dispatch).
 */
uint64_t img_frame_hash(const void *payload, size_t len);

/* Reads and validates inventory.img. Caller frees with inventory_entry__free_unpacked(). */
int img_inventory_read(const struct img_dir *d, InventoryEntry **out);

/* ------------------------------------------------------------------ */
/* Record files: header, then a zstd stream of length-prefixed records */

struct img_writer;
struct img_reader;

/* Creates file @name of @kind in @d and writes its header. */
int img_writer_open(struct img_dir *d, enum img_kind kind, const char *name,
		    struct img_writer **out);
/* Appends one record (the head first when the kind has one). Streams: memory bounded. */
int img_writer_put(struct img_writer *w, const ProtobufCMessage *msg);
/* Finishes the stream and closes the file; frees w even on error. */
int img_writer_close(struct img_writer *w);
/* Aborts: frees w without finishing. NULL ok. */
void img_writer_free(struct img_writer *w);

/* Opens file @name, checks magic, version and that the kind is @kind. */
int img_reader_open(const struct img_dir *d, enum img_kind kind, const char *name,
		    struct img_reader **out);
/* Same on an arbitrary path; the kind is taken from the header (decode). */
int img_reader_open_path(const char *path, struct img_reader **out);
enum img_kind img_reader_kind(const struct img_reader *r);
/*
 * Reads the next record. *msg is unpacked with the head descriptor for the
 * first record of a kind that has one, with the entry descriptor after.
 * Returns 1 with *msg set (free with protobuf_c_message_free_unpacked(msg, NULL)),
 * 0 at a clean end of file, or -errno.
 */
int img_reader_next(struct img_reader *r, ProtobufCMessage **msg);
/* Index of the record next() returned last, and its offset in the stream. */
uint64_t img_reader_index(const struct img_reader *r);
void img_reader_free(struct img_reader *r);
/* Added: offset in the decompressed stream of the record next() returned last. */
uint64_t img_reader_offset(const struct img_reader *r);
/*
 * Added: a reader over a memory buffer (fuzzing, tests); the kind comes from
 * the header; @buf must outlive the reader. A page store opens with kind
 * IMG_PAGES and has no records (use pstore_iter).
 */
int img_reader_open_mem(const void *buf, size_t len, const char *name, struct img_reader **out);

/* ------------------------------------------------------------------ */
/* Page store: pages-PID.img + pageidx-PID.img + pagemap-PID.img        */

struct pstore_opts {
	int level;		/* zstd level; default 1 */
	int no_compress;	/* store frames raw */
	unsigned int threads;	/* compression workers; 0 = online CPUs */
	size_t frame_bytes;	/* raw bytes per frame; default 2 MiB */
};

/*
 * A frame buffer handed out by the writer: the producer fills @data with
 * pages and describes where each came from with runs (vaddr, nr_pages) in
 * increasing address order; pages are packed back to back in @data.
 */
struct pstore_buf {
	void *data;
	size_t cap_pages;	/* capacity of data in pages */
	size_t nr_pages;	/* filled so far */
	struct pstore_src {
		uint64_t vaddr;
		uint64_t nr_pages;
	} *runs;
	size_t nr_runs, cap_runs;
};

struct pstore_stats {
	uint64_t pages_stored, pages_zero, pages_parent;
	uint64_t bytes_raw, bytes_stored;	/* stored = payload bytes on disk */
	uint64_t frames;
};

struct pstore_writer;

/*
 * Opens the three files for process @pid. Compression runs in opts->threads
 * worker threads; frames are written in order by a writer thread (O_DIRECT
 * through an 8 MiB staging buffer when the filesystem allows it). Memory is
 * bounded by about (threads + 2) * 2 * frame_bytes + 8 MiB whatever the
 * number of runs: runs are merged with the previous one and streamed to
 * pagemap-PID.img as their frame is written; its head carries no page counts
 * (see img_pagemap_counts()).
 * A hole must not be added while a buffer with lower addresses is still
 * being filled: submit it first (runs must come in increasing address order).
 */
int pstore_writer_open(struct img_dir *d, unsigned int pid, const struct pstore_opts *opts,
		       struct pstore_writer **out);
/* Gets an empty buffer to fill (blocks while all buffers are in flight). */
int pstore_writer_get(struct pstore_writer *w, struct pstore_buf **out);
/*
 * Appends a run descriptor for pages just copied to buf->data + buf->nr_pages*ps
 * and advances buf->nr_pages by nr_pages (merging with the previous run when
 * contiguous). -ENOSPC when the buffer cannot hold them, -EINVAL if unaligned.
 */
int pstore_buf_add_run(struct pstore_buf *b, uint64_t vaddr, uint64_t nr_pages);
/*
 * Submits a filled buffer: workers split out all-zero pages (PE_ZERO runs),
 * compress the rest, and the writer thread appends the frame and its runs
 * in submission order. The buffer returns to the pool.
 */
int pstore_writer_submit(struct pstore_writer *w, struct pstore_buf *b);
/* Adds a run with no bytes (PE_ZERO / PE_PARENT / PE_LAZY), ordered with submits. */
int pstore_writer_add_hole(struct pstore_writer *w, uint64_t vaddr, uint64_t nr_pages,
			   uint32_t flags);
/* Drains the pipeline and closes the files. Frees w even on error. */
int pstore_writer_close(struct pstore_writer *w, struct pstore_stats *st);
void pstore_writer_free(struct pstore_writer *w);

/* ------------------------------------------------------------------ */
/* Added: walking the frames of a page store file on its own (decode, verify, fuzz) */

struct img_frame;
struct pstore_iter;

/* Opens pages file @path (or a memory buffer) and checks its header. */
int pstore_iter_open_path(const char *path, struct pstore_iter **out);
int pstore_iter_open_mem(const void *buf, size_t len, const char *name, struct pstore_iter **out);
/*
 * Reads the next frame header into *f. With @check, also reads the payload,
 * checks its XXH3 and that it decompresses to raw_len. Returns 1 with a
 * frame, 0 at the end marker (which must match the frame count and end the
 * file), or -errno (see pstore_iter_can_go_on()).
 */
int pstore_iter_next(struct pstore_iter *it, struct img_frame *f, int check);
/*
 * Added: after next() failed, 1 when the walk can go on (the error was in a
 * frame's payload: checksum or decompression), 0 after a structural error.
 */
int pstore_iter_can_go_on(const struct pstore_iter *it);
void pstore_iter_free(struct pstore_iter *it);

/* ------------------------------------------------------------------ */
/* Reading memory of a dumped process: struct img_mem                  */

struct img_run {
	uint64_t vaddr, nr_pages;
	uint32_t flags;
	uint64_t frame, offset;
};

struct img_frame {
	uint64_t id, file_offset;
	uint32_t raw_len, stored_len, flags;
	uint64_t xxh3;
};

/*
 * All of one process's image loaded for random access: head records, the
 * VMA list, the sorted run list and the frame index (O(VMAs + runs) memory),
 * with the page store open. Every cross reference has been checked at load
 * time: runs sorted, non-overlapping, inside VMAs, frames exist and the run
 * fits in its frame. Pages are decompressed on demand, a frame at a time,
 * through a small cache.
 */
struct img_mem {
	unsigned int pid;
	size_t page_size;
	MmEntry *mm;
	VmaEntry **vmas;		/* sorted by start */
	size_t nr_vmas;
	TaskCore *task;			/* NULL when the image has no core file */
	ThreadCore **threads;
	size_t nr_threads;
	struct img_run *runs;		/* sorted by vaddr */
	size_t nr_runs;
	struct img_frame *frames;	/* indexed by id */
	size_t nr_frames;
	int pages_fd;
	struct img_mem_cache *cache;	/* private */
	struct img_mem *parent;		/* loaded on demand for PE_PARENT runs */
	const struct img_dir *dir;
};

int img_mem_load(const struct img_dir *d, unsigned int pid, struct img_mem **out);
void img_mem_free(struct img_mem *m);
/* The VMA containing addr, or NULL. */
const VmaEntry *img_mem_find_vma(const struct img_mem *m, uint64_t addr);
/* The run containing addr, or NULL (page absent from the image). */
const struct img_run *img_mem_find_run(const struct img_mem *m, uint64_t addr);
/* Index of the first VMA of m that ends after addr; m->nr_vmas if none. */
size_t img_mem_vma_index(const struct img_mem *m, uint64_t addr);
/* Index of the first run of m that ends after addr; m->nr_runs if none. */
size_t img_mem_run_index(const struct img_mem *m, uint64_t addr);
/*
 * Decompresses and checks frame @id into @buf (frame raw_len bytes).
 * Returns 0, -EBADMSG on checksum or zstd failure (message names the frame).
 */
int img_mem_read_frame(struct img_mem *m, uint64_t id, void *buf);
/*
 * Reads len bytes at addr. Absent pages are left untouched in buf and their
 * page indexes are reported through @absent (bitmap, 1 bit per page from
 * ALIGN_DOWN(addr)) when non-NULL. Returns the number of absent pages or -errno.
 */
long img_mem_read(struct img_mem *m, uint64_t addr, void *buf, size_t len, uint8_t *absent);

/*
 * Walks every frame in file order with @threads decompressing in parallel
 * and calls cb once per frame, in order, on the calling thread, with the
 * frame's decompressed bytes and the runs that point into it. Used by
 * restore and verify. Stops at the first cb error.
 */
typedef int (*img_frame_cb)(void *arg, const struct img_frame *f, const void *data,
			    const struct img_run *const *runs, size_t nr_runs);
int img_mem_foreach_frame(struct img_mem *m, unsigned int threads, img_frame_cb cb, void *arg);

/*
 * Added for verify: a problem report, one complete message per call
 * ("'pagemap-12.img': run 0x7f00 (3 pages) is outside every VMA").
 */
typedef void (*img_problem_cb)(void *arg, const char *msg);
/*
 * Like img_mem_load(), but every cross-reference problem (VMA order, runs
 * outside VMAs, overlaps, missing frames, bad index entries, head counts)
 * is reported through cb and the offending run or frame is dropped, so the
 * result stays safe to use. Returns the number of problems (>= 0) with *out
 * set, or -errno when a file cannot be read or parsed at all.
 */
int img_mem_load_check(const struct img_dir *d, unsigned int pid, img_problem_cb cb, void *arg,
		       struct img_mem **out);
/*
 * Reads every frame of the index with @threads in parallel: header equal to
 * its index entry, payload XXH3, decompression to raw_len. Reports every bad
 * frame through cb (naming its id) and returns the number of bad frames.
 */
long img_mem_check_frames(struct img_mem *m, unsigned int threads, img_problem_cb cb, void *arg);
/* Added: the pages of the parent image for PE_PARENT runs; -ENOENT when it has none. */
int img_mem_parent(struct img_mem *m, struct img_mem **parent);

/* Added: page counts of pagemap-PID.img, as the head of older images carried them. */
struct img_pagemap_counts {
	uint64_t nr_runs, nr_stored, nr_zero, nr_parent, nr_lazy;
};
/*
 * Added: computes the counts by streaming the runs (O(1) memory; runs are
 * not checked against the VMAs). Counts present in the head must agree
 * (-EBADMSG otherwise). Works on images with and without head counts.
 */
int img_pagemap_counts(const struct img_dir *d, unsigned int pid, struct img_pagemap_counts *out);

/* ------------------------------------------------------------------ */
/* Added: validation of what checksums cannot vouch for (validate.c)    */

#define IMG_MAX_VMAS		(1u << 20)	/* vm.max_map_count is 65530 unless raised */
#define IMG_MAX_THREADS		(1u << 16)
#define IMG_MAX_FDS		(1u << 20)
#define IMG_MAX_LOAD_BYTES	(1ull << 30)	/* records of one file kept in memory */
#define IMG_MAX_PATH		4096		/* PATH_MAX, with the NUL */
#define IMG_MAX_AUXV		1024		/* auxv words (type, value pairs) */
#define IMG_MAX_BUILD_ID	64
#define IMG_MAX_XSTATE		(64u << 10)
#define IMG_FPREGS_SIZE		512
#define IMG_MAX_CHAIN		64		/* parent images */
#define IMG_USER_END		0x00007ffffffff000ull	/* x86_64 TASK_SIZE, 4-level paging */
#define IMG_VSYSCALL_START	0xffffffffff600000ull
#define IMG_VSYSCALL_END	0xffffffffff601000ull

/*
 * Checks one VMA on its own: start < end, 4 KiB aligned (and aligned to
 * 1 << page_shift), inside user space (or exactly the [vsyscall] page, of
 * kind VMA_VSYSCALL), kind in range, prot within PROT_READ|WRITE|EXEC|SEM,
 * flags within the MAP_* bits in use with exactly one of SHARED/PRIVATE,
 * page_shift 12/21/30 when present, path < IMG_MAX_PATH, build id <= 64
 * bytes, every guard range non-empty and inside the VMA.
 * Returns 0, or -EBADMSG with the first problem described in why (NUL-
 * terminated, truncated to len; why may be NULL). No I/O, no allocation.
 */
int img_validate_vma(const VmaEntry *v, char *why, size_t len);
/*
 * Every VMA of a list (sorted by start): img_validate_vma() on each, plus
 * no overlap or disorder and at most IMG_MAX_VMAS. With cb, reports every
 * problem ("vma 3: ...") and returns how many; with cb NULL, stops at the
 * first, sets img_strerror() to it and returns 1. 0 means valid.
 */
int img_validate_vmas(VmaEntry *const *vmas, size_t nr, img_problem_cb cb, void *arg);
/*
 * The mm head: auxv even and <= IMG_MAX_AUXV words, exe path < IMG_MAX_PATH,
 * nr_vmas <= IMG_MAX_VMAS, code/data/brk/arg/env pairs (when both ends are
 * present) ordered and inside user space. Reports like img_validate_vmas().
 */
int img_validate_mm(const MmEntry *mm, img_problem_cb cb, void *arg);
/*
 * One thread: tid in 1..2^22, gpregs == sizeof(struct user_regs_struct) and
 * fpregs (when present) == 512 bytes on x86_64, xstate <= IMG_MAX_XSTATE,
 * rseq area <= 4096 bytes inside user space, comm < 64 bytes. Returns 0 or
 * -EBADMSG with why set, like img_validate_vma().
 */
int img_validate_thread(const ThreadCore *t, char *why, size_t len);
/* The task record: sigactions for signals 1..64 only, cwd/root < IMG_MAX_PATH. */
int img_validate_task(const TaskCore *tc, char *why, size_t len);
/* Task (may be NULL) and every thread, at most IMG_MAX_THREADS; reports like img_validate_vmas(). */
int img_validate_core(const TaskCore *tc, ThreadCore *const *threads, size_t nr,
		      img_problem_cb cb, void *arg);
/* True when [start, end) is a non-empty 4 KiB-aligned user range or the [vsyscall] page. */
int img_va_range_ok(uint64_t start, uint64_t end);
/*
 * A string from an image made safe for a terminal: printable ASCII and valid
 * UTF-8 (no C1 controls) kept, backslash doubled, every other byte as \xNN;
 * cut with "..." to fit len bytes (len >= 8). NULL gives "". Returns buf.
 */
const char *img_str_safe(const char *s, char *buf, size_t len);

#endif
