/* SPDX-License-Identifier: MIT */
#include "ex_proc.h"
#include "ex_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t ex_fork(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		ex_die_errno("fork");
	return pid;
}

void ex_wait_ok(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			ex_die_errno("waitpid(%s)", what);
	if (WIFSIGNALED(status))
		ex_die("%s killed by signal %d", what, WTERMSIG(status));
	if (WEXITSTATUS(status))
		ex_die("%s exited with status %d", what, WEXITSTATUS(status));
}

void ex_chan_open(struct ex_chan *c)
{
	int fd[2];

	if (pipe2(fd, O_CLOEXEC))
		ex_die_errno("pipe");
	c->rd = fd[0];
	c->wr = fd[1];
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void ex_chan_close(struct ex_chan *c)
{
	close_fd(&c->rd);
	close_fd(&c->wr);
}

void ex_chan_keep_rd(struct ex_chan *c)
{
	close_fd(&c->wr);
}

void ex_chan_keep_wr(struct ex_chan *c)
{
	close_fd(&c->rd);
}

void ex_chan_send(const struct ex_chan *c, uint64_t v)
{
	ssize_t n;

	/* 8 bytes < PIPE_BUF: written whole or not at all. */
	while ((n = write(c->wr, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (n != sizeof(v))
		ex_die_errno("pipe write");
}

uint64_t ex_chan_recv(const struct ex_chan *c)
{
	uint64_t v;
	ssize_t n;

	while ((n = read(c->rd, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (n < 0)
		ex_die_errno("pipe read");
	if (n != sizeof(v))
		ex_die("pipe closed by the other side");
	return v;
}
