/*
 * The limits no kernel mechanism enforces for the run as a whole: its CPU
 * time (RLIMIT_CPU is per process, and a cgroup only counts) and, without a
 * cgroup, its memory. A one-shot timer wakes the supervisor to check.
 *
 * CPU time grows at most as fast as the run has cores, so the next check
 * comes when the limit could first be reached: rarely while much is left,
 * often near the end. Memory can grow at any moment, so without a cgroup it
 * is checked every MEMORY_CHECK_MS.
 */
#include "launcher.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum {
    MEMORY_CHECK_MS = 10,
    MIN_CHECK_US = 2000,
    MAX_CHECK_US = 1000000,
};

static uint64_t run_cpu_us(const struct limit_watch *watch, const struct run_census *census)
{
    uint64_t cpu_us = census != NULL ? census->cpu_us : 0;
    cgroup_read_cpu_us(watch->cgroup, &cpu_us);
    return cpu_us;
}

static void arm(struct limit_watch *watch, uint64_t delay_us)
{
    if (delay_us < MIN_CHECK_US)
        delay_us = MIN_CHECK_US;
    if (delay_us > MAX_CHECK_US)
        delay_us = MAX_CHECK_US;
    if (watch->memory_watched && delay_us > MEMORY_CHECK_MS * 1000u)
        delay_us = MEMORY_CHECK_MS * 1000u;
    /* Re-armed at every cell's begin and end: a check already due sooner
     * stays, or cells that follow each other faster than it would put it off forever. */
    struct itimerspec pending;
    if (timerfd_gettime(watch->timer_fd, &pending) == 0) {
        uint64_t due_us = (uint64_t)pending.it_value.tv_sec * 1000000u + (uint64_t)pending.it_value.tv_nsec / 1000u;
        bool armed = pending.it_value.tv_sec != 0 || pending.it_value.tv_nsec != 0;
        if (armed && due_us <= delay_us)
            return;
    }
    struct itimerspec once = {.it_value = {.tv_sec = (time_t)(delay_us / 1000000u),
                                           .tv_nsec = (long)(delay_us % 1000000u) * 1000}};
    if (timerfd_settime(watch->timer_fd, 0, &once, NULL) != 0)
        fail_errno("timerfd_settime", "arming the limit watch");
}

/* The earliest time the run could reach its CPU limit, or its cell's, from `used`. */
static uint64_t time_to_cpu_limit(const struct limit_watch *watch, uint64_t used)
{
    uint64_t earliest = MAX_CHECK_US;
    const uint64_t limits[2] = {watch->config->cpu_time_us, watch->cell_cpu_limit_us};
    for (int i = 0; i < 2; i++) {
        if (limits[i] == 0)
            continue;
        uint64_t delay = used >= limits[i] ? 0 : (limits[i] - used) / watch->cores;
        if (delay < earliest)
            earliest = delay;
    }
    return earliest;
}

/* Resident pages shared after fork count once per process in `census`; confirm with each one's share. */
static bool over_memory_limit(const struct limit_watch *watch, struct run_census *census)
{
    return census->memory_bytes > watch->config->cgroup.memory_bytes &&
           take_run_census(watch->init, watch->config->workdir, watch->socket_probe, true, census) &&
           census->memory_bytes > watch->config->cgroup.memory_bytes;
}

uint64_t current_run_cpu_us(const struct limit_watch *watch)
{
    struct run_census census = {0};
    bool counted = !watch->cpu_counted_by_cgroup &&
                   take_run_census(watch->init, watch->config->workdir, watch->socket_probe, false, &census);
    return run_cpu_us(watch, counted ? &census : NULL);
}

void read_run_usage(const struct limit_watch *watch, struct run_usage *usage)
{
    struct run_census census = {0};
    bool counted = take_run_census(watch->init, watch->config->workdir, watch->socket_probe, false, &census);
    *usage = (struct run_usage){
        .cpu_us = run_cpu_us(watch, counted ? &census : NULL),
        .largest_resident_bytes = census.largest_resident_bytes,
        .over_memory_limit = watch->memory_watched && counted && over_memory_limit(watch, &census),
    };
}

void rearm_limit_watch(struct limit_watch *watch)
{
    if (watch->config != NULL && watch->timer_fd >= 0)
        arm(watch, time_to_cpu_limit(watch, current_run_cpu_us(watch)));
}

int start_limit_watch(struct limit_watch *watch, const struct sandbox_config *config, pid_t init,
                      const struct cgroup_handle *cgroup, int socket_probe)
{
    uint64_t ignored;
    *watch = (struct limit_watch){
        .config = config,
        .init = init,
        .cgroup = cgroup,
        .memory_watched = !cgroup->active,
        .cpu_counted_by_cgroup = cgroup_read_cpu_us(cgroup, &ignored),
        .socket_probe = socket_probe,
        .timer_fd = -1,
    };
    if (config->cpu_time_us == 0 && !watch->memory_watched)
        return -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    watch->cores = cores > 0 ? (uint64_t)cores : 1;
    watch->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (watch->timer_fd < 0)
        fail_errno("timerfd_create", "the limit watch");
    arm(watch, time_to_cpu_limit(watch, 0));
    return watch->timer_fd;
}

enum run_stop check_limits(struct limit_watch *watch)
{
    uint64_t expirations;
    ssize_t ignored = read(watch->timer_fd, &expirations, sizeof expirations);
    (void)ignored;
    struct run_census census = {0};
    bool counted = !watch->cpu_counted_by_cgroup || watch->memory_watched
                       ? take_run_census(watch->init, watch->config->workdir, watch->socket_probe, false, &census)
                       : false;
    uint64_t cpu_us = run_cpu_us(watch, counted ? &census : NULL);
    if (watch->config->cpu_time_us != 0 && cpu_us >= watch->config->cpu_time_us)
        return STOPPED_AT_CPU_LIMIT;
    if (watch->cell_cpu_limit_us != 0 && cpu_us >= watch->cell_cpu_limit_us)
        watch->cell_limit_reached = true;
    if (watch->memory_watched && counted && over_memory_limit(watch, &census))
        return STOPPED_AT_MEMORY_LIMIT;
    arm(watch, time_to_cpu_limit(watch, cpu_us));
    return RUN_GOING;
}
