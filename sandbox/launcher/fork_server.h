/*
 * The fork server's supervisor (fork_server.c) and a session's cells
 * (session_cells.c): the run the slot serves now, and what they share.
 */
#ifndef PYSANDBOX_FORK_SERVER_H
#define PYSANDBOX_FORK_SERVER_H

#include "launcher.h"

struct run {
    bool active;
    struct sandbox_config config;
    int status_fd;
    int stop_fd;
    int go_fd;
    int outcome_fd;
    int pid_fd; /* of the run's pid 1, once it has sent it */
    enum run_stop stop;
    uint64_t kill_at_ms;  /* when a stopped run's pid 1 is killed, should it not have ended */
    bool status_gone;     /* the service closed its end of the status channel */
    bool reported;
    struct limit_watch watch;
    int timer_fd;
    const struct cgroup_handle *cgroup; /* the slot's, which the run shares with the fork server */
    /* A session's: whether a cell runs, the run's CPU time when it began,
     * and the part of a word from the service read so far. */
    bool cell_running;
    uint64_t cell_oom_kills_base; /* the cgroup's OOM kills when the cell began */
    bool cell_over_memory;        /* without a cgroup: the cell was rolled back for the session's memory */
    uint64_t cell_cpu_base_us;
    uint64_t cell_cpu_limit_us;
    unsigned char word[1 + sizeof(uint64_t)];
    size_t word_length;
};

/* What a word from the service, or a cell's change, asks of the run. The
 * files that decide it (session_cells.c, layer_mount.c) return it, and
 * fork_server.c, which owns the run, does it, in this order. */
struct run_actions {
    char pid1_request;   /* a request byte for the run's pid 1 (sandbox_steps.h's *_REQUEST), or 0 */
    enum run_stop stop;  /* why the run stops (its first reason counts), or RUN_GOING */
    bool rearm_watch;    /* the limit watch takes the cell's limit (when the run goes on) */
};

/* The service's word to mount a layer into the run (layer_mount.c). */
enum { LAYER_MOUNT_WORD = 'p' };

/* layer_mount.c: after a LAYER_MOUNT_WORD, the layer's path, then the mount and its answer. */
void read_layer_mount_word(struct run *run);
/* layer_mount.c: the next word waiting on a one-off run's stop socket, and
 * what it asks in `actions`; false when none waits. */
bool next_run_word(struct run *run, struct run_actions *actions);

/* session_cells.c: the next whole word waiting on a session's stop socket,
 * and what it asks in `actions`; false when none waits. */
bool next_session_word(struct run *run, struct run_actions *actions);
/* session_cells.c: the cell running ends: its usage is reported, and its processes are to stop. */
struct run_actions end_cell(struct run *run);
/* session_cells.c: the limit watch found the cell past its CPU limit. */
struct run_actions interrupt_cell_at_limit(struct run *run);
/* session_cells.c: the limit watch found the session past its memory limit
 * during a cell: rolled back if it can be, else the session stops. */
struct run_actions cell_over_memory(struct run *run);
/* session_cells.c: pid 1 rolled the session back, or says why it could
 * not: reported, and the cell ends as the service decides. */
void report_rollback(struct run *run, const struct run_outcome *outcome);

#endif
