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
 * What a word or a cell's change asks of the run (its pid 1, its limit
 * watch, its end) is returned as run_actions; fork_server.c does it.
 * A session that rolls back (--rollback) has one more word, 'r': the cell
 * is rolled back (its pid 1 ends it and every process it started, and the
 * snapshot taken before it goes on, steps/rollback.c); a cell at its CPU
 * limit, or past the session's memory without a cgroup, is rolled back
 * too instead of interrupted or ended, and the rollback is reported
 * ("cell rolled_back signal=N exit_code=N memory=0|1").
 */
#include "fork_server.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* The service's words on a session's stop socket. */
enum { CELL_BEGIN = 'b', CELL_END = 'e', CELL_INTERRUPT = 'i', CELL_ROLLBACK = 'r' };

/* A cell begins: its processes go on, and its CPU time counts from here. */
static struct run_actions begin_cell(struct run *run, uint64_t cpu_limit_us)
{
    if (run->cell_running)
        return (struct run_actions){0};
    run->cell_running = true;
    /* Before its pidfd came (the service sent the first cell at once), the
     * watch starts later, from 0, and takes the cell's limit then. */
    run->cell_cpu_base_us = run->pid_fd >= 0 ? current_run_cpu_us(&run->watch) : 0;
    cgroup_reset_peak(run->cgroup);
    uint64_t ignored_peak = 0;
    cgroup_read_usage(run->cgroup, &ignored_peak, &run->cell_oom_kills_base);
    run->cell_over_memory = false;
    /* Saturated: a sum that wrapped would put the limit behind the cell, or at 0, which is none. */
    uint64_t allowed = cpu_limit_us > 0 ? cpu_limit_us : 1;
    run->cell_cpu_limit_us = allowed <= UINT64_MAX - run->cell_cpu_base_us ? run->cell_cpu_base_us + allowed : UINT64_MAX;
    run->watch.cell_cpu_limit_us = run->cell_cpu_limit_us;
    run->watch.cell_limit_reached = false;
    return (struct run_actions){.pid1_request = RESUME_REQUEST, .rearm_watch = true};
}

struct run_actions end_cell(struct run *run)
{
    if (!run->cell_running)
        return (struct run_actions){0};
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
    return (struct run_actions){
        .pid1_request = PAUSE_REQUEST,
        .stop = over_memory ? STOPPED_AT_MEMORY_LIMIT : RUN_GOING,
        .rearm_watch = !over_memory,
    };
}

/* What one whole word asks: a cell's word, a layer to mount; anything else stops the session. */
static struct run_actions session_word(struct run *run)
{
    switch (run->word[0]) {
    case CELL_BEGIN: {
        uint64_t cpu_limit_us;
        memcpy(&cpu_limit_us, run->word + 1, sizeof cpu_limit_us);
        return begin_cell(run, cpu_limit_us);
    }
    case CELL_END: return end_cell(run);
    case CELL_INTERRUPT: return (struct run_actions){.pid1_request = run->cell_running ? INTERRUPT_REQUEST : 0};
    case CELL_ROLLBACK:
        if (!run->config.rolls_back)
            return (struct run_actions){.stop = STOPPED_BY_SERVICE};
        return (struct run_actions){.pid1_request = run->cell_running ? ROLLBACK_REQUEST : 0};
    case LAYER_MOUNT_WORD: read_layer_mount_word(run); return (struct run_actions){0};
    default: return (struct run_actions){.stop = STOPPED_BY_SERVICE};
    }
}

bool next_session_word(struct run *run, struct run_actions *actions)
{
    for (;;) {
        size_t wanted = run->word_length == 0 ? 1 : run->word[0] == CELL_BEGIN ? sizeof run->word : 1;
        ssize_t count = recv(run->stop_fd, run->word + run->word_length, wanted - run->word_length, MSG_DONTWAIT);
        if (count < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        if (count <= 0) { /* the socket's end */
            *actions = (struct run_actions){.stop = STOPPED_BY_SERVICE};
            return true;
        }
        run->word_length += (size_t)count;
        if (run->word_length < (run->word[0] == CELL_BEGIN ? sizeof run->word : 1))
            continue;
        run->word_length = 0;
        *actions = session_word(run);
        return true;
    }
}

/* A cell past its CPU limit is interrupted, once; the service ends it if that does not. */
struct run_actions interrupt_cell_at_limit(struct run *run)
{
    run->watch.cell_limit_reached = false;
    run->watch.cell_cpu_limit_us = 0;
    run->cell_cpu_limit_us = 0;
    if (!run->cell_running)
        return (struct run_actions){0};
    report_line("cell limit=cpu");
    return (struct run_actions){.pid1_request = run->config.rolls_back ? ROLLBACK_REQUEST : INTERRUPT_REQUEST, .rearm_watch = true};
}

struct run_actions cell_over_memory(struct run *run)
{
    if (!run->config.rolls_back || !run->cell_running)
        return (struct run_actions){.stop = STOPPED_AT_MEMORY_LIMIT};
    if (run->cell_over_memory) /* asked already: the rollback frees it, or pid 1 ends the session */
        return (struct run_actions){.rearm_watch = true};
    run->cell_over_memory = true;
    return (struct run_actions){.pid1_request = ROLLBACK_REQUEST, .rearm_watch = true};
}

void report_rollback(struct run *run, const struct run_outcome *outcome)
{
    if (outcome->rolled_back != ROLLED_BACK) { /* the run's end follows */
        report_line("cell rollback_failed reason=%s",
                    outcome->rolled_back == ROLLBACK_WITHOUT_SNAPSHOT ? "no_snapshot" : "processes_stuck");
        return;
    }
    int command_status = outcome->command_status;
    uint64_t peak = 0, oom_kills = 0;
    cgroup_read_usage(run->cgroup, &peak, &oom_kills);
    bool memory = run->cell_over_memory || oom_kills > run->cell_oom_kills_base;
    run->cell_oom_kills_base = oom_kills;
    report_line("cell rolled_back signal=%d exit_code=%d memory=%d",
                WIFSIGNALED(command_status) ? WTERMSIG(command_status) : 0,
                WIFEXITED(command_status) ? WEXITSTATUS(command_status) : -1, memory ? 1 : 0);
}
