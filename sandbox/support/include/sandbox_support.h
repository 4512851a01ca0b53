/* Small libc calls the Swift side needs but Glibc's Swift overlay hides (they are GNU extensions). */
#ifndef PYSANDBOX_SUPPORT_H
#define PYSANDBOX_SUPPORT_H

/* pipe2(fds, O_CLOEXEC): both ends close-on-exec from birth, so no concurrent spawn inherits them. */
int sandbox_pipe_cloexec(int fds[2]);

/* malloc_trim(0): returns the heap's free pages to the kernel, which glibc otherwise keeps. 1 if any were returned. */
int sandbox_trim_heap(void);

#endif
