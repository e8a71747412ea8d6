// SPDX-License-Identifier: MIT
/*
 * addr.c: address expressions for the inspection commands: numbers,
 * VMA_NAME+OFFSET and ELF symbols of the mapped files (bounds-checked ELF64
 * parsing on a read-only mapping), and opening the image of one process.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "util.h"

/* Largest ELF file we map for symbol lookup. */
#define ELF_MAX_FILE	(4ull << 30)
/* Files tried for one symbol lookup. */
#define SYM_MAX_FILES	4096

int addr_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10, d;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return -EINVAL;
	}
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return -EINVAL;
		if (mul_overflow(v, (uint64_t)base, &v) || add_overflow(v, (uint64_t)d, &v))
			return -ERANGE;
	}
	*out = v;
	return 0;
}

int addr_expr_parse(const char *s, struct addr_expr *e)
{
	const char *plus;
	size_t nlen;
	int ret;

	memset(e, 0, sizeof(*e));
	if (!s || !*s)
		return -EINVAL;
	if (addr_parse_u64(s, &e->num) == 0) {
		e->kind = ADDR_NUM;
		return 0;
	}
	e->kind = ADDR_NAMED;
	plus = strrchr(s, '+');
	/* "[heap]+0x40"; a '+' inside a file name without a number stays in the name. */
	if (plus && plus != s && addr_parse_u64(plus + 1, &e->num) == 0) {
		nlen = plus - s;
	} else {
		if (plus && plus[1] == 0)
			return -EINVAL;
		nlen = strlen(s);
		e->num = 0;
	}
	if (nlen == 0 || nlen >= sizeof(e->name) || s[0] == '+')
		return -EINVAL;
	memcpy(e->name, s, nlen);
	e->name[nlen] = 0;
	ret = addr_parse_u64(e->name, &e->num);
	if (ret != -EINVAL)	/* "12+4": not a name */
		return -EINVAL;
	return 0;
}

const char *addr_vma_name(const VmaEntry *v)
{
	static const char *const kind_names[] = {
		[VMA_KIND__VMA_ANON_PRIVATE] = "[anon]",
		[VMA_KIND__VMA_ANON_SHARED] = "[anon:shared]",
		[VMA_KIND__VMA_FILE_PRIVATE] = "[file]",
		[VMA_KIND__VMA_FILE_SHARED] = "[file:shared]",
		[VMA_KIND__VMA_SHMEM] = "[shmem]",
		[VMA_KIND__VMA_VDSO] = "[vdso]",
		[VMA_KIND__VMA_VVAR] = "[vvar]",
		[VMA_KIND__VMA_VSYSCALL] = "[vsyscall]",
		[VMA_KIND__VMA_STACK] = "[stack]",
		[VMA_KIND__VMA_HEAP] = "[heap]",
		[VMA_KIND__VMA_HUGETLB] = "[hugetlb]",
		[VMA_KIND__VMA_UNSUPPORTED] = "[unsupported]",
	};

	if (v->path && v->path[0])
		return v->path;
	if ((unsigned int)v->kind < ARRAY_SIZE(kind_names) && kind_names[v->kind])
		return kind_names[v->kind];
	return "[?]";
}

/* ------------------------------------------------------------------ */
/* ELF64 on a buffer: every read goes through elf_get()                */

static int elf_get(const uint8_t *img, size_t len, uint64_t off, size_t size, void *dst)
{
	if (off > len || size > len - off)
		return -ENOEXEC;
	memcpy(dst, img + off, size);
	return 0;
}

static int elf_ehdr(const uint8_t *img, size_t len, Elf64_Ehdr *eh)
{
	if (elf_get(img, len, 0, sizeof(*eh), eh))
		return -ENOEXEC;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	return 0;
}

int elf_check(const uint8_t *img, size_t len)
{
	Elf64_Ehdr eh;

	return elf_ehdr(img, len, &eh);
}

static int elf_shdr(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, unsigned int i,
		    Elf64_Shdr *sh)
{
	if (eh->e_shentsize != sizeof(*sh) || i >= eh->e_shnum)
		return -ENOEXEC;
	return elf_get(img, len, eh->e_shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh), sh);
}

static int elf_phdr(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, unsigned int i,
		    Elf64_Phdr *ph)
{
	if (eh->e_phentsize != sizeof(*ph) || i >= eh->e_phnum)
		return -ENOEXEC;
	return elf_get(img, len, eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph), ph);
}

static int elf_range_ok(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Looks name up in the symbol tables of section type @type. */
static int elf_sym_in(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, uint32_t type,
		      const char *name, struct elf_sym_info *out)
{
	size_t nlen = strlen(name);
	Elf64_Shdr sh, st;
	Elf64_Sym sym;
	uint64_t i, k, nsyms;

	for (i = 0; i < eh->e_shnum; i++) {
		if (elf_shdr(img, len, eh, i, &sh))
			return -ENOEXEC;
		if (sh.sh_type != type)
			continue;
		if (sh.sh_entsize != sizeof(sym) || !elf_range_ok(len, sh.sh_offset, sh.sh_size))
			return -ENOEXEC;
		if (elf_shdr(img, len, eh, sh.sh_link, &st) || st.sh_type != SHT_STRTAB ||
		    !elf_range_ok(len, st.sh_offset, st.sh_size))
			return -ENOEXEC;
		nsyms = sh.sh_size / sizeof(sym);
		for (k = 1; k < nsyms; k++) {
			const char *sname;

			memcpy(&sym, img + sh.sh_offset + k * sizeof(sym), sizeof(sym));
			if (sym.st_shndx == SHN_UNDEF || ELF64_ST_TYPE(sym.st_info) == STT_TLS ||
			    ELF64_ST_TYPE(sym.st_info) == STT_SECTION)
				continue;
			if (sym.st_name >= st.sh_size || st.sh_size - sym.st_name <= nlen)
				continue;
			sname = (const char *)img + st.sh_offset + sym.st_name;
			if (memcmp(sname, name, nlen) || sname[nlen])
				continue;
			out->value = sym.st_value;
			out->size = sym.st_size;
			out->type = ELF64_ST_TYPE(sym.st_info);
			return 0;
		}
	}
	return -ENOENT;
}

int elf_sym_find(const uint8_t *img, size_t len, const char *name, struct elf_sym_info *out)
{
	Elf64_Ehdr eh;
	int ret;

	if (!name || !*name)
		return -ENOENT;
	ret = elf_ehdr(img, len, &eh);
	if (ret)
		return ret;
	ret = elf_sym_in(img, len, &eh, SHT_SYMTAB, name, out);
	if (ret != -ENOENT)
		return ret;
	return elf_sym_in(img, len, &eh, SHT_DYNSYM, name, out);
}

/* Finds the GNU build id in one note area [off, off+size). */
static int elf_note_build_id(const uint8_t *img, size_t len, uint64_t off, uint64_t size,
			     const uint8_t **id, size_t *id_len)
{
	uint64_t end = off + size, nsz, dsz;
	Elf64_Nhdr nh;

	while (off + sizeof(nh) <= end) {
		if (elf_get(img, len, off, sizeof(nh), &nh))
			return -ENOEXEC;
		off += sizeof(nh);
		nsz = ALIGN_UP((uint64_t)nh.n_namesz, 4);
		dsz = ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (nsz > end - off || dsz > end - off - nsz)
			return -ENOEXEC;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp(img + off, "GNU", 4) && nh.n_descsz > 0) {
			*id = img + off + nsz;
			*id_len = nh.n_descsz;
			return 0;
		}
		off += nsz + dsz;
	}
	return -ENOENT;
}

int elf_build_id(const uint8_t *img, size_t len, const uint8_t **id, size_t *id_len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;
	int ret;

	ret = elf_ehdr(img, len, &eh);
	if (ret)
		return ret;
	for (i = 0; i < eh.e_phnum; i++) {
		if (elf_phdr(img, len, &eh, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_NOTE)
			continue;
		if (!elf_range_ok(len, ph.p_offset, ph.p_filesz))
			return -ENOEXEC;
		ret = elf_note_build_id(img, len, ph.p_offset, ph.p_filesz, id, id_len);
		if (ret != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

int elf_load_bias(const uint8_t *img, size_t len, uint64_t vaddr, uint64_t pgoff, size_t ps,
		  uint64_t *bias)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;
	int ret;

	if (!ps || (ps & (ps - 1)))
		return -EINVAL;
	ret = elf_ehdr(img, len, &eh);
	if (ret)
		return ret;
	for (i = 0; i < eh.e_phnum; i++) {
		if (elf_phdr(img, len, &eh, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || ALIGN_DOWN(ph.p_offset, (uint64_t)ps) != pgoff)
			continue;
		*bias = vaddr - ALIGN_DOWN(ph.p_vaddr, (uint64_t)ps);
		return 0;
	}
	return -ENOENT;
}

/* ------------------------------------------------------------------ */
/* Resolution against an image                                         */

/* The lowest VMA named @name (full name, or basename when @base). */
static const VmaEntry *vma_by_name(const struct img_mem *m, const char *name, int base)
{
	const char *vn, *slash;
	size_t i;

	for (i = 0; i < m->nr_vmas; i++) {
		vn = addr_vma_name(m->vmas[i]);
		if (!strcmp(vn, name))
			return m->vmas[i];
		slash = strrchr(vn, '/');
		if (base && slash && !strcmp(slash + 1, name))
			return m->vmas[i];
	}
	return NULL;
}

struct elf_map {
	uint8_t *p;
	size_t len;
};

static void elf_unmap(struct elf_map *em)
{
	if (em->p)
		munmap(em->p, em->len);
	em->p = NULL;
}

static int elf_map_path(const char *path, struct elf_map *em, struct stat *st)
{
	int fd;

	em->p = NULL;
	/* An image names the path: a FIFO or a tty must not block or become ours. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    (uint64_t)st->st_size > ELF_MAX_FILE) {
		close(fd);
		return -ENOEXEC;
	}
	em->len = st->st_size;
	em->p = mmap(NULL, em->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (em->p == MAP_FAILED) {
		em->p = NULL;
		return -errno;
	}
	if (elf_check(em->p, em->len)) {
		elf_unmap(em);
		return -ENOEXEC;
	}
	return 0;
}

static int elf_id_matches(const struct elf_map *em, const VmaEntry *v)
{
	const uint8_t *id;
	size_t id_len;

	return !elf_build_id(em->p, em->len, &id, &id_len) && id_len == v->build_id.len &&
	       !memcmp(id, v->build_id.data, id_len);
}

/* Maps @v's file read-only and checks it is still the file that was mapped. */
static int elf_map_vma_file(const VmaEntry *v, struct elf_map *em)
{
	char safe[512];
	struct stat st;
	int ret;

	ret = elf_map_path(v->path, em, &st);
	if (ret)
		return ret;
	if (v->has_build_id && v->build_id.len) {
		if (!elf_id_matches(em, v)) {
			pr_warn("'%s' is not the file that was mapped (build id differs), skipped",
				img_str_safe(v->path, safe, sizeof(safe)));
			ret = -ESTALE;
		}
	} else if (v->has_ino && v->ino && v->ino != (uint64_t)st.st_ino) {
		pr_warn("'%s' was replaced since the dump (inode differs), skipped",
			img_str_safe(v->path, safe, sizeof(safe)));
		ret = -ESTALE;
	}
	if (ret)
		elf_unmap(em);
	return ret;
}

/*
 * The separate debug file of @v by build id (/usr/lib/debug/.build-id/xx/
 * yyyy.debug): full .symtab for stripped libraries. Same addresses as the
 * mapped file.
 */
static int elf_map_debug(const VmaEntry *v, struct elf_map *em)
{
	char path[64 + 2 * 64];
	struct stat st;
	size_t i, o;

	em->p = NULL;
	if (!v->has_build_id || v->build_id.len < 2 || v->build_id.len > 64)
		return -ENOENT;
	o = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", v->build_id.data[0]);
	for (i = 1; i < v->build_id.len; i++)
		o += snprintf(path + o, sizeof(path) - o, "%02x", v->build_id.data[i]);
	snprintf(path + o, sizeof(path) - o, ".debug");
	if (elf_map_path(path, em, &st))
		return -ENOENT;
	if (!elf_id_matches(em, v)) {
		elf_unmap(em);
		return -ENOENT;
	}
	return 0;
}

/* Finds @name in the debug file of @v, else in the mapped file itself. */
static int sym_lookup(const VmaEntry *v, const struct elf_map *em, const char *name,
		      struct elf_sym_info *si)
{
	struct elf_map dm = { NULL, 0 };
	int ret = -ENOENT;

	if (!elf_map_debug(v, &dm)) {
		ret = elf_sym_find(dm.p, dm.len, name, si);
		elf_unmap(&dm);
	}
	if (ret)
		ret = elf_sym_find(em->p, em->len, name, si);
	return ret;
}

/* Looks @name up in the file of VMA @first; on success *addr is relocated. */
static int sym_in_file(const struct img_mem *m, size_t first, const char *name, uint64_t *addr)
{
	const VmaEntry *v = m->vmas[first];
	struct elf_sym_info si;
	struct elf_map em = { NULL, 0 };
	uint64_t bias;
	size_t i;
	int ret;

	ret = elf_map_vma_file(v, &em);
	if (ret)
		return -ENOENT;
	ret = sym_lookup(v, &em, name, &si);
	if (ret)
		goto out;
	ret = -ENOENT;
	for (i = first; i < m->nr_vmas; i++) {
		const VmaEntry *w = m->vmas[i];

		if (!w->path || strcmp(w->path, v->path))
			continue;
		if (!elf_load_bias(em.p, em.len, w->start, w->pgoff, m->page_size, &bias)) {
			*addr = si.value + bias;
			pr_debug("'%s' in '%s' at %#lx (bias %#lx)", name, v->path,
				 (unsigned long)*addr, (unsigned long)bias);
			ret = 0;
			break;
		}
	}
out:
	elf_unmap(&em);
	return ret;
}

static int sym_resolve(const struct img_mem *m, const char *name, uint64_t *addr)
{
	const char *exe = m->mm && m->mm->exe_path ? m->mm->exe_path : NULL;
	size_t i, tried = 0;
	int pass;

	/* Pass 0: the executable; pass 1: every other mapped file. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->nr_vmas && tried < SYM_MAX_FILES; i++) {
			const char *p = m->vmas[i]->path;

			if (!p || p[0] != '/')
				continue;
			if (i > 0 && m->vmas[i - 1]->path && !strcmp(m->vmas[i - 1]->path, p))
				continue;
			if ((pass == 0) != (exe && !strcmp(p, exe)))
				continue;
			tried++;
			if (!sym_in_file(m, i, name, addr))
				return 0;
			if (pass == 0)
				break;
		}
	}
	return -ENOENT;
}

int addr_resolve(const struct img_mem *m, const char *expr, uint64_t *out)
{
	struct addr_expr e;
	const VmaEntry *v;
	uint64_t base;
	int ret;

	ret = addr_expr_parse(expr, &e);
	if (ret)
		return cm_err(ret, "bad address expression '%s'", expr);
	if (e.kind == ADDR_NUM) {
		*out = e.num;
		return 0;
	}
	if (e.name[0] == '[' || strchr(e.name, '/')) {
		v = vma_by_name(m, e.name, 0);
		if (!v)
			return cm_err(-ENOENT, "no VMA named '%s' in pid %u", e.name, m->pid);
		base = v->start;
	} else if (sym_resolve(m, e.name, &base)) {
		v = vma_by_name(m, e.name, 1);
		if (!v)
			return cm_err(-ENOENT, "no symbol or VMA named '%s' in pid %u", e.name,
				      m->pid);
		base = v->start;
	}
	if (add_overflow(base, e.num, out))
		return cm_err(-ERANGE, "address '%s' overflows", expr);
	return 0;
}
