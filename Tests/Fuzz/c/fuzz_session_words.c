/*
 * A session's words on its stop socket (session_cells.c's
 * next_session_word): 'b' and eight bytes (the cell's CPU limit in
 * microseconds), 'e', 'i', 'p' (a layer to mount, stubbed here); anything
 * else stops the session. The input is
 * written to a stream socket in pieces (the first byte says how long each
 * is), and the words are read as the slot reads them, piece after piece.
 * The run's other parts (the limit watch, the cgroup) are stubs, and the
 * actions each word returns are done as fork_server.c does them. Checked: a
 * word is never read past its buffer; a cell that runs has its CPU limit
 * ahead of where it began; only a cell that begins resumes the run's
 * processes, only one that ends pauses them, and an interrupt reaches only
 * a running cell.
 */
#include "fuzz_stubs.h"
#include "fork_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The run's CPU time so far, as the limit watch would read it: it grows with every reading. */
static uint64_t cpu_now_us;

uint64_t current_run_cpu_us(const struct limit_watch *watch)
{
    (void)watch;
    return cpu_now_us += 1500;
}

void read_run_usage(const struct limit_watch *watch, struct run_usage *usage)
{
    *usage = (struct run_usage){.cpu_us = current_run_cpu_us(watch), .largest_resident_bytes = 1 << 20};
}

void rearm_limit_watch(struct limit_watch *watch)
{
    (void)watch;
}

void cgroup_reset_peak(const struct cgroup_handle *cgroup)
{
    (void)cgroup;
}

void cgroup_read_usage(const struct cgroup_handle *cgroup, uint64_t *peak_bytes, uint64_t *oom_kills)
{
    (void)cgroup;
    *peak_bytes = 1 << 20;
    *oom_kills = 0;
}

/* layer_mount.c's: the rest of a 'p' word (sent whole by the service) and the mount; not this target's. */
void read_layer_mount_word(struct run *run)
{
    (void)run;
}

static void check(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_session_words: %s\n", what);
        abort();
    }
}

static void check_run(const struct run *run)
{
    check(run->word_length < sizeof run->word, "a partial word as long as its buffer");
    if (run->cell_running)
        check(run->cell_cpu_limit_us > run->cell_cpu_base_us && run->watch.cell_cpu_limit_us == run->cell_cpu_limit_us,
              "a running cell's CPU limit is not ahead of where it began (a wrapped sum?)");
    else
        check(run->watch.cell_cpu_limit_us == 0, "a cell limit is watched with no cell running");
}

/* fork_server.c's part: the actions, checked against the cell's state before and after the word. */
static void act_on(struct run *run, struct run_actions actions, bool cell_was_running)
{
    switch (actions.pid1_request) {
    case 0: break;
    case RESUME_REQUEST: check(!cell_was_running && run->cell_running, "resumed without a cell beginning"); break;
    case PAUSE_REQUEST: check(cell_was_running && !run->cell_running, "paused without a cell ending"); break;
    case INTERRUPT_REQUEST: check(cell_was_running && run->cell_running, "interrupted with no cell running"); break;
    case ROLLBACK_REQUEST:
        check(run->config.rolls_back, "a rollback asked of a session that does not roll back");
        check(cell_was_running && run->cell_running, "a rollback with no cell running");
        break;
    default: check(false, "a request pid 1 does not know");
    }
    if (actions.stop != RUN_GOING && run->stop == RUN_GOING)
        run->stop = actions.stop;
}

static void read_words(struct run *run)
{
    struct run_actions actions;
    bool cell_was_running = run->cell_running;
    while (next_session_word(run, &actions)) {
        act_on(run, actions, cell_was_running);
        cell_was_running = run->cell_running;
        if (actions.stop != RUN_GOING)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    size_t piece = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
        abort();
    static struct cgroup_handle cgroup;
    static struct sandbox_config config;
    config.rolls_back = (data[0] & 2) != 0; /* 'r' rolls back, or ends the session */
    struct run run = {.active = true, .config = config, .stop_fd = sockets[0], .go_fd = -1, .outcome_fd = -1,
                      .pid_fd = (data[0] & 1) ? 7 : -1, .timer_fd = -1, .cgroup = &cgroup};
    run.watch.config = &run.config;
    cpu_now_us = 1000000;
    for (size_t offset = 0; offset < size && run.stop == RUN_GOING; offset += piece) {
        size_t count = size - offset < piece ? size - offset : piece;
        if (write(sockets[1], data + offset, count) != (ssize_t)count)
            abort();
        read_words(&run);
        check_run(&run);
    }
    close(sockets[1]);
    if (run.stop == RUN_GOING) {
        read_words(&run); /* the socket's end */
        check(run.stop == STOPPED_BY_SERVICE, "the socket's end did not stop the session");
    }
    if (run.cell_running)
        act_on(&run, end_cell(&run), true);
    check_run(&run);
    close(sockets[0]);
    return 0;
}
