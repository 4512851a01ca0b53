/* The status channel: one line per event, read by the service. */
#include "sandbox_steps.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int report_fd = STATUS_FD;

void report_to(int fd)
{
    report_fd = fd;
}

void report_line(const char *format, ...)
{
    char line[1024];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(line, sizeof line - 1, format, arguments);
    va_end(arguments);
    if (length < 0)
        return;
    if ((size_t)length > sizeof line - 2)
        length = sizeof line - 2;
    line[length++] = '\n';
    /* One write of less than PIPE_BUF is atomic, so lines never interleave. */
    ssize_t ignored = write(report_fd, line, (size_t)length);
    (void)ignored;
}

void report_failure_errno(const char *step, int error_number, const char *detail)
{
    /* strerror may allocate for unknown codes; every code reported here is known. */
    report_line("error step=%s errno=%d reason=%s: %s", step, error_number,
                error_number ? strerror(error_number) : "none", detail ? detail : "");
}

void report_failure(const char *step, const char *detail)
{
    report_failure_errno(step, 0, detail);
}

void fail(const char *step, const char *detail)
{
    report_failure(step, detail);
    _exit(111);
}

void fail_errno(const char *step, const char *detail)
{
    fail_with_code(step, errno, detail);
}

void fail_with_code(const char *step, int error_number, const char *detail)
{
    report_failure_errno(step, error_number, detail);
    _exit(111);
}
