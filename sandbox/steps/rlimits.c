/* Resource limits of the command, set between fork and exec. */
#include "sandbox_steps.h"

#include <sys/resource.h>

static void set_limit(int resource, rlim_t soft, rlim_t hard, const char *step)
{
    struct rlimit limit = {.rlim_cur = soft, .rlim_max = hard};
    if (setrlimit(resource, &limit) != 0)
        fail_errno(step, "setrlimit");
}

void apply_rlimits(const struct rlimit_spec *limits)
{
    /* SIGXCPU at the soft limit, SIGKILL one second later for code that ignores
     * it. Per process only: the supervisor enforces the run-wide limit. */
    rlim_t hard_cpu = limits->cpu_seconds == RLIM_INFINITY ? RLIM_INFINITY : limits->cpu_seconds + 1;
    set_limit(RLIMIT_CPU, limits->cpu_seconds, hard_cpu, "rlimit_cpu");
    set_limit(RLIMIT_AS, limits->address_space_bytes, limits->address_space_bytes, "rlimit_as");
    set_limit(RLIMIT_FSIZE, limits->file_size_bytes, limits->file_size_bytes, "rlimit_fsize");
    set_limit(RLIMIT_NOFILE, limits->open_files, limits->open_files, "rlimit_nofile");
    set_limit(RLIMIT_NPROC, limits->processes, limits->processes, "rlimit_nproc");
    set_limit(RLIMIT_STACK, limits->stack_bytes, limits->stack_bytes, "rlimit_stack");
    set_limit(RLIMIT_CORE, 0, 0, "rlimit_core");
    set_limit(RLIMIT_MEMLOCK, 0, 0, "rlimit_memlock");
    set_limit(RLIMIT_MSGQUEUE, 0, 0, "rlimit_msgqueue");
    set_limit(RLIMIT_LOCKS, 64, 64, "rlimit_locks");
}
