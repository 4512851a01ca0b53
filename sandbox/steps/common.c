/* Small helpers shared by the launcher's files: whole small-file reads and
 * writes (cgroup, /proc), reads retried on EINTR, and CPU time from rusage.
 * None of them reports or exits: the caller decides what a failure means. */
#include "sandbox_steps.h"

#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

ssize_t read_retrying(int fd, void *buffer, size_t size)
{
    ssize_t length;
    do {
        length = read(fd, buffer, size);
    } while (length < 0 && errno == EINTR);
    return length;
}

ssize_t read_small_file(const char *path, char *buffer, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t length = read_retrying(fd, buffer, size - 1);
    int saved = errno;
    close(fd);
    errno = saved;
    if (length < 0)
        return -1;
    buffer[length] = '\0';
    return length;
}

int write_small_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t written = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)strlen(text) ? 0 : -1;
}

static uint64_t microseconds(struct timeval time)
{
    return (uint64_t)time.tv_sec * 1000000u + (uint64_t)time.tv_usec;
}

uint64_t rusage_cpu_us(const struct rusage *usage)
{
    return microseconds(usage->ru_utime) + microseconds(usage->ru_stime);
}

int parse_pid_list(const char *text, pid_t *pids, int max)
{
    int count = 0;
    const char *cursor = text;
    while (count < max) {
        char *end = NULL;
        long pid = strtol(cursor, &end, 10);
        if (end == cursor)
            break;
        /* A number beyond pid_t would wrap to another process's pid, or a negative one. */
        if (pid > 0 && pid <= INT_MAX)
            pids[count++] = (pid_t)pid;
        cursor = end;
    }
    return count;
}
