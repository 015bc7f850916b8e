/* SPDX-License-Identifier: MIT */
/*
 * exechooks.h - the environment a traced process hands to a new image.
 *
 * Every exec variant and posix_spawn re-inject LD_PRELOAD and the
 * RMAPSHIM_* variables into the envp they pass on, built on the caller's
 * stack (no malloc: the caller may be a vfork child).
 */
#ifndef RMAPSHIM_EXECHOOKS_H
#define RMAPSHIM_EXECHOOKS_H

#include <stddef.h>

#define SHIM_ENV_STRBYTES	8192	/* composed LD_PRELOAD and RMAPSHIM_PARENT */

/* Remember our LD_PRELOAD entry and RMAPSHIM_* variables (constructor). */
void shim_env_save(const char *libpath);
/* Slots a rebuilt copy of @envp needs, terminating NULL included. */
size_t shim_env_slots(char *const envp[]);
/* @envp plus our variables in @slots/@strs, or @envp itself if they do not fit. */
char *const *shim_env_build(char *const envp[], const char **slots,
			    size_t nslots, char *strs, size_t strcap);

#endif /* RMAPSHIM_EXECHOOKS_H */
