/*
 * A fork-server run message (fork_server.c's begin_run, through
 * options.c's parse_run_message): NUL-separated words, at most 4095 bytes
 * as the slot receives them, over a copy of the slot's configuration. A bad
 * message is reported and the run refused; the slot goes on serving runs,
 * so nothing here may exit the process (the stubs abort if it would). Only
 * the limit options may differ from the slot's configuration.
 */
#include "fuzz_stubs.h"
#include "launcher.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct sandbox_config slot_config(void)
{
    static char *words[] = {"pysandbox-launcher", "--fork-server", "--fork-run-library", "/lib/fork-run.so",
                            "--workdir", "/work", "--ro-bind", "/usr", "--env", "A=1", "--memory-bytes", "268435456",
                            "--cpu-time-ms", "10000", "--", "/usr/bin/python3", "-c", "pass", NULL};
    static struct sandbox_config config;
    static bool made;
    if (!made) {
        optind = 0;
        parse_options(sizeof words / sizeof words[0] - 1, words, &config);
        made = true;
    }
    return config;
}

static void check(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_run_message: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4095) /* the slot reads at most 4095 bytes of a message */
        return 0;
    const struct sandbox_config slot = slot_config();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct sandbox_config run = slot;
    int before = fuzz_report_count;
    opterr = 0; /* getopt says nothing of unknown options: the log would fill with it */
    int parsed = parse_run_message(text, size, &run);
    check(parsed == 0 || parsed == -1, "parse_run_message returned neither 0 nor -1");
    if (parsed != 0)
        check(fuzz_report_count > before && strstr(fuzz_last_report, "error step=") == fuzz_last_report,
              "a refused run message was not reported");
    /* What the run message may not change. */
    check(run.argv == slot.argv && run.env_count == slot.env_count && run.bind_count == slot.bind_count &&
              run.symlink_count == slot.symlink_count && run.workdir == slot.workdir &&
              run.hostname == slot.hostname && run.inside_uid == slot.inside_uid &&
              run.inside_gid == slot.inside_gid && run.outside_uid == slot.outside_uid &&
              run.outside_gid == slot.outside_gid && run.fork_server == slot.fork_server &&
              run.fork_run_library == slot.fork_run_library &&
              run.cgroup.v2_parent == slot.cgroup.v2_parent &&
              run.cgroup.v1_memory_parent == slot.cgroup.v1_memory_parent &&
              memcmp(run.env, slot.env, sizeof run.env) == 0 &&
              memcmp(run.ro_binds, slot.ro_binds, sizeof run.ro_binds) == 0,
          "a run message changed more than the limits");
    /* The run-wide CPU limit and its per-process backstop agree: none, or the same whole seconds rounded up. */
    if (run.cpu_time_us == 0)
        check(run.rlimits.cpu_seconds == RLIM_INFINITY, "no CPU limit, yet a per-process one");
    else
        check(run.rlimits.cpu_seconds == (run.cpu_time_us + 999999) / 1000000,
              "the CPU limit and its per-process backstop disagree (a wrapped product?)");
    free(text);
    return 0;
}
