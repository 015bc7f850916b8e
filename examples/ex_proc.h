/* SPDX-License-Identifier: MIT */
/*
 * ex_proc.h - processes: fork with a clear failure, wait expecting a clean
 * exit, and pipe handshakes (the only synchronization the examples use
 * between processes: no sleeps).
 */
#ifndef EX_PROC_H
#define EX_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* fork(), exiting 1 on failure.  Flushes stdio first so no line is printed twice. */
pid_t ex_fork(void);
/* waitpid for @pid; exits 1 unless it exited with status 0. */
void ex_wait_ok(pid_t pid, const char *what);

/* A one-way channel: a pipe carrying 64-bit messages. */
struct ex_chan {
	int rd, wr;
};
void ex_chan_open(struct ex_chan *c);
void ex_chan_close(struct ex_chan *c);
/* Keep only one end after fork (the side that keeps @rd reads). */
void ex_chan_keep_rd(struct ex_chan *c);
void ex_chan_keep_wr(struct ex_chan *c);
void ex_chan_send(const struct ex_chan *c, uint64_t v);
/* Receive one message; exits 1 on EOF (the other side died). */
uint64_t ex_chan_recv(const struct ex_chan *c);

#endif /* EX_PROC_H */
