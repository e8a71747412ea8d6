// SPDX-License-Identifier: MIT
/*
 * vmflag.c: the one table of smaps VmFlags mnemonics, their bits in
 * struct vma.vm_flags and the madvise advice that recreates them.
 */
#include <string.h>
#include <sys/mman.h>

#include "vma.h"

const struct vmflag_desc vmflag_table[] = {
	{ "rd", VMF_RD, 0, "readable" },
	{ "wr", VMF_WR, 0, "writeable" },
	{ "ex", VMF_EX, 0, "executable" },
	{ "sh", VMF_SH, 0, "shared" },
	{ "mr", VMF_MR, 0, "may read" },
	{ "mw", VMF_MW, 0, "may write" },
	{ "me", VMF_ME, 0, "may execute" },
	{ "ms", VMF_MS, 0, "may share" },
	{ "gd", VMF_GD, 0, "stack segment grows down" },
	{ "pf", VMF_PF, 0, "pure PFN range" },
	{ "lo", VMF_LO, 0, "pages are locked in memory" },
	{ "io", VMF_IO, 0, "memory mapped I/O area" },
	{ "sr", VMF_SR, MADV_SEQUENTIAL, "sequential read advise provided" },
	{ "rr", VMF_RR, MADV_RANDOM, "random read advise provided" },
	{ "dc", VMF_DC, MADV_DONTFORK, "do not copy area on fork" },
	{ "de", VMF_DE, 0, "do not expand area on remapping" },
	{ "ac", VMF_AC, 0, "area is accountable" },
	{ "nr", VMF_NR, 0, "swap space is not reserved for the area" },
	{ "ht", VMF_HT, 0, "area uses huge tlb pages" },
	{ "sf", VMF_SF, 0, "perform synchronous page faults" },
	{ "nl", VMF_NL, 0, "non-linear mapping" },
	{ "ar", VMF_AR, 0, "architecture specific flag" },
	{ "wf", VMF_WF, MADV_WIPEONFORK, "wipe on fork" },
	{ "dd", VMF_DD, MADV_DONTDUMP, "do not include area into core dump" },
	{ "sd", VMF_SD, 0, "soft dirty flag" },
	{ "mm", VMF_MM, 0, "mixed map area" },
	{ "hg", VMF_HG, MADV_HUGEPAGE, "huge page advise flag" },
	{ "nh", VMF_NH, MADV_NOHUGEPAGE, "no huge page advise flag" },
	{ "mg", VMF_MG, MADV_MERGEABLE, "mergeable advise flag" },
	{ "um", VMF_UM, 0, "userfaultfd missing tracking" },
	{ "uw", VMF_UW, 0, "userfaultfd wr-protect tracking" },
	{ "ss", VMF_SS, 0, "shadow stack page" },
	{ "sl", VMF_SL, 0, "sealed" },
	{ "bt", VMF_BT, 0, "arm64 BTI guarded page" },
	{ "mt", VMF_MT, 0, "arm64 MTE allocation tags are enabled" },
	{ "gu", VMF_GU, 0, "guard regions may be present" },
	{ "ov", VMF_OV, 0, "overlay or uncached mapping (arch specific)" },
	{ "lf", VMF_LF, 0, "lock on fault pages" },
	{ "ui", VMF_UI, 0, "userfaultfd minor fault tracking" },
	{ "dp", VMF_DP, 0, "droppable under memory pressure" },
};

const size_t vmflag_table_len = sizeof(vmflag_table) / sizeof(vmflag_table[0]);

const struct vmflag_desc *vmflag_by_name(const char *name)
{
	size_t i;

	if (!name || !name[0] || !name[1] || name[2])
		return NULL;
	for (i = 0; i < vmflag_table_len; i++)
		if (vmflag_table[i].name[0] == name[0] && vmflag_table[i].name[1] == name[1])
			return &vmflag_table[i];
	return NULL;
}
