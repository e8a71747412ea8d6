// SPDX-License-Identifier: MIT
/*
 * dir.c: image directories. Created as a temporary sibling, filled with
 * O_EXCL|O_NOFOLLOW 0600 files, then committed: inventory.img listing every
 * file's size and XXH3, fsync, rename into place, fsync of the parent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "imgint.h"
#include "util.h"

struct img_dir {
	char *path;		/* final path */
	char *tmp;		/* temp dir while writing, NULL when opened/committed */
	int fd;
	unsigned int flags;
	int committed;
	struct dir_hash {	/* sizes and hashes known from the writers */
		char name[64];
		uint64_t size, xxh3;
	} *hashes;
	size_t nr_hashes;
};

int img_dir_file_hashed(struct img_dir *d, const char *name, uint64_t size, uint64_t xxh3)
{
	struct dir_hash *h;

	if (strlen(name) >= sizeof(h->name))
		return img_err(-ENAMETOOLONG, "'%s': name too long", name);
	h = realloc(d->hashes, (d->nr_hashes + 1) * sizeof(*h));
	if (!h)
		return img_err(-ENOMEM, "no memory");
	d->hashes = h;
	h += d->nr_hashes++;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->size = size;
	h->xxh3 = xxh3;
	return 0;
}

/* Size and hash of a file of the directory: known from its writer, or read back. */
static int dir_file_hash(struct img_dir *d, int fd, const char *name, uint64_t *size,
			 uint64_t *hash)
{
	int sync = !(d->flags & IMG_DIR_NOFSYNC);
	struct stat st;
	size_t i;

	for (i = 0; i < d->nr_hashes; i++) {
		if (strcmp(d->hashes[i].name, name))
			continue;
		if (fstat(fd, &st) || (uint64_t)st.st_size != d->hashes[i].size)
			break;	/* changed since: read it back */
		if (sync && fsync(fd))
			return img_err(-errno, "cannot fsync '%s'", name);
		*size = d->hashes[i].size;
		*hash = d->hashes[i].xxh3;
		return 0;
	}
	return img_file_hash(fd, name, sync, size, hash);
}

static int dir_alloc(const char *path, struct img_dir **out)
{
	struct img_dir *d = calloc(1, sizeof(*d));

	if (!d || !(d->path = strdup(path))) {
		free(d);
		return img_err(-ENOMEM, "no memory for directory '%s'", path);
	}
	d->fd = -1;
	*out = d;
	return 0;
}

static int dir_is_empty(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!dp)
		return -errno;
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(dp);
	return empty;
}

int img_dir_create(const char *path, unsigned int flags, struct img_dir **out)
{
	struct img_dir *d = NULL;
	struct stat st;
	size_t len;
	int ret;

	if (lstat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || dir_is_empty(path) != 1)
			return img_err(-EEXIST, "'%s' already exists", path);
	} else if (errno != ENOENT) {
		return img_err(-errno, "cannot stat '%s'", path);
	}
	ret = dir_alloc(path, &d);
	if (ret)
		return ret;
	d->flags = flags;
	len = strlen(path) + sizeof(".tmp.XXXXXX");
	d->tmp = malloc(len);
	if (!d->tmp) {
		ret = img_err(-ENOMEM, "no memory for directory '%s'", path);
		goto out;
	}
	snprintf(d->tmp, len, "%s.tmp.XXXXXX", path);
	if (!mkdtemp(d->tmp)) {
		ret = img_err(-errno, "cannot create temporary directory '%s'", d->tmp);
		free(d->tmp);
		d->tmp = NULL;
		goto out;
	}
	d->fd = open(d->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		ret = img_err(-errno, "cannot open '%s'", d->tmp);
		goto out;
	}
	*out = d;
	return 0;
out:
	img_dir_free(d);
	return ret;
}

int img_dir_open(const char *path, struct img_dir **out)
{
	struct img_dir *d;
	int ret;

	ret = dir_alloc(path, &d);
	if (ret)
		return ret;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		ret = img_err(-errno, "cannot open image directory '%s'", path);
		img_dir_free(d);
		return ret;
	}
	d->committed = 1;
	*out = d;
	return 0;
}

int img_dir_fd(const struct img_dir *d)
{
	return d->fd;
}

const char *img_dir_path(const struct img_dir *d)
{
	return d->path;
}

int img_dir_create_file(struct img_dir *d, const char *name)
{
	int fd;

	if (!d->tmp)
		return img_err(-EROFS, "'%s': directory is not being written", d->path);
	fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return img_err(-errno, "cannot create '%s' in '%s'", name, d->tmp);
	return fd;
}

int img_dir_open_file(const struct img_dir *d, const char *name)
{
	int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return img_err(-errno, "cannot open '%s' in '%s'", name, d->path);
	return fd;
}

/* Size and XXH3 of an open file; fsyncs it unless nofsync. */
int img_file_hash(int fd, const char *name, int do_fsync, uint64_t *size, uint64_t *hash)
{
	size_t cap = 1 << 20;
	XXH3_state_t *st = XXH3_createState();
	char *buf = malloc(cap);
	uint64_t off = 0;
	int ret = 0;

	if (!st || !buf) {
		ret = img_err(-ENOMEM, "no memory to hash '%s'", name);
		goto out;
	}
	XXH3_64bits_reset(st);
	for (;;) {
		ssize_t n = pread(fd, buf, cap, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = img_err(-errno, "cannot read '%s' at offset %llu", name,
				      (unsigned long long)off);
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(st, buf, n);
		off += n;
	}
	if (do_fsync && fsync(fd)) {
		ret = img_err(-errno, "cannot fsync '%s'", name);
		goto out;
	}
	*size = off;
	*hash = XXH3_64bits_digest(st);
out:
	XXH3_freeState(st);
	free(buf);
	return ret;
}

static void files_free(FileEntry **files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(files[i]->name);
		free(files[i]);
	}
	free(files);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(FileEntry *const *)a)->name, (*(FileEntry *const *)b)->name);
}

/* Lists, hashes and fsyncs every file of the temp dir into inv->files. */
static int dir_list_files(struct img_dir *d, InventoryEntry *inv)
{
	FileEntry **files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dp = NULL;
	int dfd, fd = -1, ret = 0;

	dfd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(dp = fdopendir(dfd))) {
		ret = img_err(-errno, "cannot list '%s'", d->tmp);
		close_safe(&dfd);
		goto out;
	}
	while ((de = readdir(dp))) {
		FileEntry *fe;
		int kind;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "inventory.img"))
			continue;
		kind = img_kind_from_name(de->d_name, NULL);
		if (n == cap) {
			FileEntry **nf = realloc(files, (cap = cap ? cap * 2 : 16) * sizeof(*nf));

			if (!nf) {
				ret = img_err(-ENOMEM, "no memory for the file list");
				goto out;
			}
			files = nf;
		}
		fe = calloc(1, sizeof(*fe));
		if (fe)
			file_entry__init(fe);	/* before name: init clears it */
		if (!fe || !(fe->name = strdup(de->d_name))) {
			free(fe);
			ret = img_err(-ENOMEM, "no memory for the file list");
			goto out;
		}
		files[n++] = fe;
		fe->kind = kind < 0 ? 0 : kind;
		fd = openat(d->fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			ret = img_err(-errno, "cannot open '%s' in '%s'", de->d_name, d->tmp);
			goto out;
		}
		ret = dir_file_hash(d, fd, de->d_name, &fe->size, &fe->xxh3);
		close_safe(&fd);
		if (ret)
			goto out;
	}
	qsort(files, n, sizeof(*files), name_cmp);
	inv->files = files;
	inv->n_files = n;
	files = NULL;
out:
	if (files)
		files_free(files, n);
	if (dp)
		closedir(dp);
	return ret;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd))
		ret = img_err(-errno, "cannot fsync '%s'", path);
	close_safe(&fd);
	return ret;
}

static int dir_write_inventory(struct img_dir *d, InventoryEntry *inv)
{
	struct img_writer *w;
	int ret;

	ret = img_writer_open(d, IMG_INVENTORY, "inventory.img", &w);
	if (ret)
		return ret;
	ret = img_writer_put(w, &inv->base);
	if (ret) {
		img_writer_free(w);
		return ret;
	}
	return img_writer_close(w);
}

int img_dir_commit(struct img_dir *d, InventoryEntry *inv)
{
	FileEntry **saved = inv->files;
	size_t n_saved = inv->n_files;
	int sync = !(d->flags & IMG_DIR_NOFSYNC);
	char *parent = NULL, *slash;
	int ret;

	if (!d->tmp)
		return img_err(-EINVAL, "'%s': not a directory being written", d->path);
	ret = dir_list_files(d, inv);
	if (ret)
		return ret;
	ret = dir_write_inventory(d, inv);
	files_free(inv->files, inv->n_files);
	inv->files = saved;
	inv->n_files = n_saved;
	if (ret)
		return ret;
	if (sync && fsync(d->fd))
		return img_err(-errno, "cannot fsync '%s'", d->tmp);
	if (rmdir(d->path) && errno != ENOENT)
		return img_err(-errno, "cannot replace '%s'", d->path);
	if (rename(d->tmp, d->path))
		return img_err(-errno, "cannot rename '%s' to '%s'", d->tmp, d->path);
	free(d->tmp);
	d->tmp = NULL;
	d->committed = 1;
	if (!sync)
		return 0;
	parent = strdup(d->path);
	if (!parent)
		return img_err(-ENOMEM, "no memory");
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	ret = fsync_path(slash ? parent : ".");
	free(parent);
	return ret;
}

static void dir_remove_tmp(struct img_dir *d)
{
	struct dirent *de;
	DIR *dp;
	int dfd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0 && (dp = fdopendir(dfd))) {
		while ((de = readdir(dp)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(d->fd, de->d_name, 0);
		closedir(dp);
	} else {
		close_safe(&dfd);
	}
	rmdir(d->tmp);
}

void img_dir_free(struct img_dir *d)
{
	if (!d)
		return;
	if (d->tmp && d->fd >= 0)
		dir_remove_tmp(d);
	close_safe(&d->fd);
	free(d->hashes);
	free(d->tmp);
	free(d->path);
	free(d);
}
