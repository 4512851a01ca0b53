/* See fuzz_stubs.h: report.c's functions for the fuzz harnesses. */
#include "fuzz_stubs.h"
#include "sandbox_steps.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

jmp_buf *fuzz_fail_return;
char fuzz_last_report[1024];
int fuzz_report_count;

void report_to(int fd)
{
    (void)fd;
}

void report_line(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(fuzz_last_report, sizeof fuzz_last_report, format, arguments);
    va_end(arguments);
    fuzz_report_count++;
}

void report_failure_errno(const char *step, int error_number, const char *detail)
{
    report_line("error step=%s errno=%d reason=%s: %s", step, error_number, error_number ? "(errno)" : "none",
                detail ? detail : "");
}

void report_failure(const char *step, const char *detail)
{
    report_failure_errno(step, 0, detail);
}

void fail_with_code(const char *step, int error_number, const char *detail)
{
    report_failure_errno(step, error_number, detail);
    if (fuzz_fail_return != NULL)
        longjmp(*fuzz_fail_return, 1);
    fprintf(stderr, "fuzz: the code under test would exit the process here (_exit(111)): %s\n", fuzz_last_report);
    abort();
}

void fail(const char *step, const char *detail)
{
    fail_with_code(step, 0, detail);
}

void fail_errno(const char *step, const char *detail)
{
    fail_with_code(step, 0, detail);
}
