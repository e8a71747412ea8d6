/* SPDX-License-Identifier: MIT */
/* Shared helpers for self-checking test targets (header-only). */
#ifndef CM_TARGET_H
#define CM_TARGET_H
#endif
