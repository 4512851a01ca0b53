/*
 * What the fuzz harnesses put in place of sandbox/steps/report.c: the
 * status channel goes nowhere (each line is still formatted), and a step
 * that would exit the process (fail, fail_errno, fail_with_code) either
 * returns to the harness, where exiting is the code's documented answer
 * (a bad launcher option), or is a finding: the harness aborts, since in
 * the launcher that exit would end a fork-server slot serving runs.
 */
#ifndef PYSANDBOX_FUZZ_STUBS_H
#define PYSANDBOX_FUZZ_STUBS_H

#include <setjmp.h>
#include <stdbool.h>

/* Where fail() returns to (longjmp), or NULL: fail() aborts. */
extern jmp_buf *fuzz_fail_return;
/* The last step reported, for harnesses that check a failure was reported. */
extern char fuzz_last_report[1024];
extern int fuzz_report_count;

#endif
