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
    uint64_t cell_cpu_base_us;
    uint64_t cell_cpu_limit_us;
    unsigned char word[1 + sizeof(uint64_t)];
    size_t word_length;
};

/* fork_server.c: ends the run for `reason` (the first reason counts); its pid 1 is killed if it lingers. */
void stop_run(struct run *run, enum run_stop reason);
/* fork_server.c: a request byte to the run's pid 1 (sandbox_steps.h's *_REQUEST). */
void tell_pid1(const struct run *run, char request);

/* The service's word to mount a layer into the run (layer_mount.c). */
enum { LAYER_MOUNT_WORD = 'p' };

/* layer_mount.c: after a LAYER_MOUNT_WORD, the layer's path, then the mount and its answer. */
void read_layer_mount_word(struct run *run);
/* layer_mount.c: the words waiting on a one-off run's stop socket. */
void read_run_words(struct run *run);

/* session_cells.c: the words waiting on a session's stop socket. */
void read_session_words(struct run *run);
/* session_cells.c: the cell running ends: its processes stop and its usage is reported. */
void end_cell(struct run *run);
/* session_cells.c: the limit watch found the cell past its CPU limit. */
void interrupt_cell_at_limit(struct run *run);

#endif
