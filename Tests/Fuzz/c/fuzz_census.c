/*
 * The /proc and cgroup text the supervisor parses (proc_text.c; steps/
 * common.c's parse_pid_list): /proc/PID/stat (CPU ticks), /proc/PID/status
 * and smaps_rollup (memory), cgroup flat-keyed files (cpu.stat,
 * memory.events), a pidfd's fdinfo, a children or cgroup.procs list. The
 * input is one file's text, cut as a read of the supervisor's buffer would
 * be; every parser reads it. The copy is exactly as long as the text, so
 * AddressSanitizer sees any read past its NUL.
 */
#include "fuzz_stubs.h"
#include "launcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_census: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4095) /* the largest buffer the supervisor reads these files into, less its NUL */
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t ticks = 0, peak = 0;
    volatile uint64_t sink = 0;
    if (parse_stat_cpu_ticks(text, &ticks))
        sink ^= ticks;
    sink ^= parse_process_memory(text, false, &peak) ^ peak;
    sink ^= parse_process_memory(text, true, &peak);
    sink ^= parse_keyed_number(text, "usage_usec") ^ parse_keyed_number(text, "oom_kill");
    sink ^= (uint64_t)parse_fdinfo_pid(text);
    pid_t pids[64];
    int count = parse_pid_list(text, pids, 64);
    check(count >= 0 && count <= 64, "more pids than room");
    for (int i = 0; i < count; i++)
        check(pids[i] > 0, "a pid that is not positive");
    (void)sink;
    free(text);
    return 0;
}
