/* SPDX-License-Identifier: MIT */
/* traceable.h - why a program cannot be traced (NULL: it can, or unknown). */
#ifndef RMAPSHIM_TRACEABLE_H
#define RMAPSHIM_TRACEABLE_H

const char *shim_untraceable(const char *path);
const char *shim_untraceable_fd(int fd);

#endif /* RMAPSHIM_TRACEABLE_H */
