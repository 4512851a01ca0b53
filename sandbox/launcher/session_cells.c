/*
 * A session's cells, one at a time, as the service's words on the run's
 * stop socket say: 'b' and eight bytes (the cell's CPU limit in
 * microseconds, host order) when a cell begins, 'e' when it has ended, 'i'
 * to interrupt it, 'p' to mount a package layer (layer_mount.c); anything
 * else, or the socket's end, ends the session.
 * Between cells pid 1 keeps every process of the session stopped. Each
 * cell's usage is reported on the run's status channel ("cell cpu_us=N
 * maxrss_kb=N cgroup=0|1 peak_memory_kb=N"), as is a cell that reached its
 * CPU limit ("cell limit=cpu", interrupted rather than stopped) and,
 * without a cgroup, one that ended holding more than the session's memory
 * limit ("cell limit=memory", which ends the session).
 */
#include "fork_server.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

/* The service's words on a session's stop socket. */
enum { CELL_BEGIN = 'b', CELL_END = 'e', CELL_INTERRUPT = 'i' };

/* A cell begins: its processes go on, and its CPU time counts from here. */
static void begin_cell(struct run *run, uint64_t cpu_limit_us)
{
    if (run->cell_running)
        return;
    run->cell_running = true;
    /* Before its pidfd came (the service sent the first cell at once), the
     * watch starts later, from 0, and takes the cell's limit then. */
    run->cell_cpu_base_us = run->pid_fd >= 0 ? current_run_cpu_us(&run->watch) : 0;
    cgroup_reset_peak(run->cgroup);
    /* Saturated: a sum that wrapped would put the limit behind the cell, or at 0, which is none. */
    uint64_t allowed = cpu_limit_us > 0 ? cpu_limit_us : 1;
    run->cell_cpu_limit_us = allowed <= UINT64_MAX - run->cell_cpu_base_us ? run->cell_cpu_base_us + allowed : UINT64_MAX;
    run->watch.cell_cpu_limit_us = run->cell_cpu_limit_us;
    run->watch.cell_limit_reached = false;
    tell_pid1(run, RESUME_REQUEST);
    rearm_limit_watch(&run->watch);
}

/* A cell has ended: its processes stop until the next, and its usage is reported. */
void end_cell(struct run *run)
{
    if (!run->cell_running)
        return;
    tell_pid1(run, PAUSE_REQUEST);
    struct run_usage usage = {0};
    if (run->pid_fd >= 0)
        read_run_usage(&run->watch, &usage);
    /* Without a cgroup memory is sampled: a cell that ends between samples
     * holding more than the session may is the cell that went over. */
    bool over_memory = usage.over_memory_limit && run->stop == RUN_GOING;
    if (over_memory)
        report_line("cell limit=memory");
    uint64_t peak_bytes = 0, oom_kills = 0;
    cgroup_read_usage(run->cgroup, &peak_bytes, &oom_kills);
    report_line("cell cpu_us=%" PRIu64 " maxrss_kb=%" PRIu64 " cgroup=%d peak_memory_kb=%" PRIu64,
                usage.cpu_us > run->cell_cpu_base_us ? usage.cpu_us - run->cell_cpu_base_us : 0,
                usage.largest_resident_bytes / 1024, run->cgroup->active ? 1 : 0, peak_bytes / 1024);
    run->cell_running = false;
    run->cell_cpu_limit_us = 0;
    run->watch.cell_cpu_limit_us = 0;
    run->watch.cell_limit_reached = false;
    if (over_memory)
        stop_run(run, STOPPED_AT_MEMORY_LIMIT);
    else
        rearm_limit_watch(&run->watch);
}

/* The words waiting on a session's stop socket; anything but a cell's word (or its end) stops it. */
void read_session_words(struct run *run)
{
    for (;;) {
        size_t wanted = run->word_length == 0 ? 1 : run->word[0] == CELL_BEGIN ? sizeof run->word : 1;
        ssize_t count = recv(run->stop_fd, run->word + run->word_length, wanted - run->word_length, MSG_DONTWAIT);
        if (count < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (count <= 0) {
            stop_run(run, STOPPED_BY_SERVICE);
            return;
        }
        run->word_length += (size_t)count;
        if (run->word_length < (run->word[0] == CELL_BEGIN ? sizeof run->word : 1))
            continue;
        run->word_length = 0;
        switch (run->word[0]) {
        case CELL_BEGIN: {
            uint64_t cpu_limit_us;
            memcpy(&cpu_limit_us, run->word + 1, sizeof cpu_limit_us);
            begin_cell(run, cpu_limit_us);
            break;
        }
        case CELL_END: end_cell(run); break;
        case CELL_INTERRUPT:
            if (run->cell_running)
                tell_pid1(run, INTERRUPT_REQUEST);
            break;
        case LAYER_MOUNT_WORD: read_layer_mount_word(run); break;
        default: stop_run(run, STOPPED_BY_SERVICE); return;
        }
    }
}

/* A cell past its CPU limit is interrupted, once; the service ends it if that does not. */
void interrupt_cell_at_limit(struct run *run)
{
    run->watch.cell_limit_reached = false;
    run->watch.cell_cpu_limit_us = 0;
    run->cell_cpu_limit_us = 0;
    if (!run->cell_running)
        return;
    report_line("cell limit=cpu");
    tell_pid1(run, INTERRUPT_REQUEST);
    rearm_limit_watch(&run->watch);
}
