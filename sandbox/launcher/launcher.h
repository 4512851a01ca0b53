/*
 * pysandbox-launcher: runs one command inside a fresh sandbox.
 *
 * Process layout:
 *   supervisor (host namespaces)   parses options, builds the seccomp program,
 *     |                            creates the run's cgroup, writes id maps,
 *     |                            waits, reports on the status fd, cleans up.
 *     |                            Watches the run's CPU time (and, without a
 *     |                            cgroup, its memory) against the limits.
 *     +- init (pid 1 of new user/pid/net/mount/ipc/uts/cgroup namespaces,
 *          |                       its own session) builds the filesystem
 *          |                       view, drops privileges, reaps orphans; it
 *          |                       installs no signal handler, so nothing in
 *          |                       the namespace can signal it: it stops on
 *          |                       the command's exit or the supervisor's word.
 *          +- command (pid 2)      its own session; rlimits, seccomp, execve.
 *
 * File descriptors on entry: 0/1/2 are the command's stdio, 3 is passed to
 * the command as is (the run request), 4 is the status channel read by the
 * service. Nothing between fork and exec allocates from the heap: buffers are
 * static or on the stack.
 *
 * Failures. A step that fails writes one status line, "error step=STEP
 * errno=N reason=STRERROR: DETAIL" (errno=0 reason=none when no system call
 * failed, e.g. a bad option), which LauncherReport.swift parses. The rule:
 *   - a function returning void (or _Noreturn) exits on failure: it reports
 *     through fail/fail_errno and _exits with status 111, cleaning up nothing
 *     (in init or the command, that death ends the run);
 *   - a function returning int returns 0, or -1 on failure; one returning bool
 *     returns false. Whether it has reported is noted at each declaration.
 * The notes below say where a function differs.
 */
#ifndef PYSANDBOX_LAUNCHER_H
#define PYSANDBOX_LAUNCHER_H

#include "sandbox_steps.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The sandbox's namespaces; the cgroup namespace comes later, from init. */
/* Where a run's package layer is mounted (PackageLayer.inside); every
 * sandbox has the folder, empty without a layer, so that one can be
 * mounted into a run that is already going (layer_mount.c). */
#define PACKAGES_MOUNTPOINT "/opt/pysandbox/packages"

#define NAMESPACE_FLAGS \
    (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

enum {
    /* With --fork-server: the fork server's end of its control socket, the
     * fork-run library it loads, and the seccomp program each run installs. */
    ZYGOTE_CONTROL_FD = 3,
    ZYGOTE_LIBRARY_FD = 5,
    ZYGOTE_SECCOMP_FD = 6,
    MAX_BINDS = 32,
    MAX_SYMLINKS = 16,
    MAX_ENV = 32,
    MAX_RUN_ARGS = 64, /* words of a fork-server run message */
};

struct symlink_spec {
    const char *target;   /* what the link points to */
    const char *linkpath; /* absolute path inside the sandbox */
};

struct cgroup_spec {
    const char *v2_parent;        /* cgroup2 directory to create the run's cgroup in */
    const char *v1_memory_parent; /* or the v1 memory and pids hierarchies */
    const char *v1_pids_parent;
    const char *v1_cpu_parent;    /* optional: v1 cpu controller for the CPU quota */
    const char *v1_cpuacct_parent; /* optional: v1 cpuacct, the run's CPU time */
    uint64_t memory_bytes;
    uint64_t pids_max;
    uint64_t cpu_millicores;      /* CPU bandwidth, 1000 = one core; 0 = unlimited */
};

struct bind_spec {
    const char *source; /* on the host */
    const char *inside; /* in the sandbox: the same path, unless --ro-bind-to or --ro-copy-to */
    /* --ro-copy-to: a copy in a tmpfs of its own is bound, so that mountinfo
     * names no host path as the mount's root (filesystem.c, copy_at). */
    bool copy;
};

struct sandbox_config {
    char *const *argv; /* the command, after "--" */
    char *env[MAX_ENV + 1];
    int env_count;
    struct bind_spec ro_binds[MAX_BINDS]; /* host paths, mounted read-only */
    int bind_count;
    struct symlink_spec symlinks[MAX_SYMLINKS];
    int symlink_count;
    const char *workdir; /* private tmpfs, also the command's cwd */
    uint64_t workdir_bytes;
    uint64_t workdir_inodes;
    const char *hostname;
    uid_t inside_uid;
    gid_t inside_gid;
    uid_t outside_uid;
    gid_t outside_gid;
    struct rlimit_spec rlimits;
    struct cgroup_spec cgroup;
    uint64_t cpu_time_us; /* CPU time of all the run's processes together; 0 = none */
    bool fork_server;     /* serve runs forked from the command (fork_server.c) */
    const char *fork_run_library; /* the fork server's library (fork_run/), with --fork-server */
    /* A fork-server run that is a session (--session): it serves cells until
     * stopped, and --cpu-time-ms is its whole life's (session_cells.c). */
    bool session;
    /* With --rollback, a session's cell that ends by a signal, a limit or
     * the service's word leaves the session as it was before the cell
     * (steps/rollback.c) instead of ending it. */
    bool rolls_back;
};

/* options.c. Exits on a bad option (fail, errno=0); otherwise returns 0. */
int parse_options(int argc, char **argv, struct sandbox_config *config);
/* A fork-server run's limits (the limit options only) over a copy of the
 * slot's config; reports and returns -1 on a bad option. `argv[0]` is skipped. */
int parse_run_options(int argc, char **argv, struct sandbox_config *config);
/* A fork-server run message: NUL-separated words ("run\0--memory-bytes\0N\0..."),
 * `text[length]` a NUL, at most MAX_RUN_ARGS of them read, parsed by
 * parse_run_options. The words point into `text`. */
int parse_run_message(char *text, size_t length, struct sandbox_config *config);

/* seccomp_policy.c. Without a cgroup that counts CPU time, the run's CPU
 * time is what init reaps, so no process may have its children reaped
 * unseen (SIGCHLD ignored). */
/* Exits on failure (before anything is made); returns 0. */
int build_seccomp_program(struct bpf_program_buffer *program, bool cpu_counted_by_cgroup);

/* cgroup.c */
struct cgroup_handle {
    bool active;
    /* A fork-server slot's cgroup serves run after run: what it held and had
     * counted when the current run began, subtracted from what is read. */
    uint64_t memory_base_bytes;
    uint64_t cpu_base_us;
    uint64_t oom_kills_base;
    char v2_dir[4096];
    char v1_memory_dir[4096];
    char v1_pids_dir[4096];
    char v1_cpu_dir[4096];
    char v1_cpuacct_dir[4096];
};
/* Reports its failure and returns -1, having removed whatever part it made. */
int cgroup_create(const struct cgroup_spec *spec, struct cgroup_handle *cgroup);
/* Returns -1 with errno and does not report: the caller does. */
int cgroup_attach(const struct cgroup_handle *cgroup, pid_t pid);
/* Never fails: what cannot be read is 0. */
void cgroup_read_usage(const struct cgroup_handle *cgroup, uint64_t *peak_bytes, uint64_t *oom_kills);
/* Peak memory counts again from the current usage (cgroup v1; v2 keeps its peak). */
void cgroup_reset_peak(const struct cgroup_handle *cgroup);
bool cgroup_counts_cpu(const struct cgroup_spec *spec);
/* CPU time of every process that was ever in the cgroup; false if it does not count it. */
bool cgroup_read_cpu_us(const struct cgroup_handle *cgroup, uint64_t *cpu_us);
/* A fork-server run's limits on the slot's cgroup, on top of what the slot
 * holds now (the fork server), and the bases its readings start from.
 * Reports its failure and returns -1. */
int cgroup_begin_run(struct cgroup_handle *cgroup, const struct cgroup_spec *spec);
/* Does not exit: reports a directory it cannot remove and goes on. */
void cgroup_destroy(const struct cgroup_handle *cgroup);

/* userns.c. Reports its failure and returns -1. */
int write_id_maps(pid_t child, const struct sandbox_config *config);

/* filesystem.c (init, between clone and exec); exits on failure. */
void build_filesystem(const struct sandbox_config *config);

/* run_census.c: the run's processes seen from the host, for the limits a
 * cgroup would otherwise enforce. Walks init's descendants in /proc. */
struct run_census {
    uint64_t cpu_us;       /* live processes plus everything they and init reaped */
    uint64_t memory_bytes; /* anonymous and shared memory, the working directory's files, socket buffers */
    uint64_t largest_resident_bytes; /* the largest resident set any live process has had (not with `proportional`) */
};
/* false, without a report, once init is gone. */
bool take_run_census(pid_t init, const char *workdir, int socket_probe, bool proportional,
                     struct run_census *census);

/* a + b, or UINT64_MAX if that does not fit: a usage that wrapped would read as under its limit. */
static inline uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a <= UINT64_MAX - b ? a + b : UINT64_MAX;
}

/* proc_text.c: the text of /proc and cgroup files (NUL-terminated), parsed;
 * no I/O, nothing reported. */
/* utime + stime + cutime + cstime of /proc/PID/stat, in clock ticks; false if it is not there. */
bool parse_stat_cpu_ticks(const char *text, uint64_t *ticks);
/* The value of the "Key:   N kB" line of /proc text (key with its newline and colon), in bytes; 0 without one. */
uint64_t parse_kb_field(const char *text, const char *key);
/* Anonymous and shared memory of /proc/PID/status (resident, with the
 * largest resident set in *peak_resident) or, `proportional`, of
 * smaps_rollup (each process's share), in bytes. */
uint64_t parse_process_memory(const char *text, bool proportional, uint64_t *peak_resident);
/* "key N" in a flat-keyed cgroup file (memory.events, cpu.stat); 0 without one. */
uint64_t parse_keyed_number(const char *text, const char *key);
/* The "Pid:" of a pidfd's /proc/self/fdinfo text; -1 without one. */
pid_t parse_fdinfo_pid(const char *text);

/* socket_memory.c: data queued in the run's sockets, which no rlimit counts. */
void send_socket_memory_probe(int channel);    /* init, in the run's network namespace; exits on failure */
int receive_socket_memory_probe(int channel);  /* supervisor; -1 if init failed first (init reported) */
uint64_t run_socket_bytes(int socket_probe);   /* 0 when it cannot tell */

/* limit_watch.c: the run-wide CPU limit, and memory without a cgroup. */
enum run_stop {
    RUN_GOING,
    STOPPED_BY_SERVICE, /* a signal from the service, or its end of the status pipe closed */
    STOPPED_AT_CPU_LIMIT,
    STOPPED_AT_MEMORY_LIMIT,
};

struct limit_watch {
    const struct sandbox_config *config;
    /* A session's current cell: its CPU limit, as a reading of the run's
     * total; 0 when no cell runs. check_limits sets cell_limit_reached
     * (the caller clears both): a cell is interrupted, not stopped. */
    uint64_t cell_cpu_limit_us;
    bool cell_limit_reached;
    pid_t init;
    const struct cgroup_handle *cgroup;
    bool memory_watched;        /* no cgroup bounds the run's memory */
    bool cpu_counted_by_cgroup;
    uint64_t cores;             /* how fast CPU time can grow, per second of wall time */
    int socket_probe;           /* sock_diag in the run's network namespace, or -1 */
    int timer_fd;
};

/* Returns the timer to poll, or -1 when there is nothing to watch (not a
 * failure); exits if no timer can be made. check_limits exits if it cannot
 * re-arm the timer. */
int start_limit_watch(struct limit_watch *watch, const struct sandbox_config *config, pid_t init,
                      const struct cgroup_handle *cgroup, int socket_probe);
enum run_stop check_limits(struct limit_watch *watch);
/* The run's CPU time so far (its cgroup's, or a census of its processes). */
uint64_t current_run_cpu_us(const struct limit_watch *watch);
/* From one census: the CPU time as current_run_cpu_us, the largest resident
 * set any live process has had, and (without a cgroup) whether the run holds
 * more than its memory limit. */
struct run_usage {
    uint64_t cpu_us;
    uint64_t largest_resident_bytes;
    bool over_memory_limit;
};
void read_run_usage(const struct limit_watch *watch, struct run_usage *usage);
/* Checks again at the next moment a limit could be reached. */
void rearm_limit_watch(struct limit_watch *watch);

/* init.c */

/* probe_channel: where init sends its socket-buffer probe, or -1 (the run has a cgroup).
 * Exits 0 after handing over the outcome; on a failed step, fail's 111; 112
 * when the supervisor is gone; 113 when waiting for its processes fails. */
_Noreturn void run_init(const struct sandbox_config *config, const struct bpf_program_buffer *program,
                        int go_fd, int outcome_fd, int probe_channel);

/* supervisor.c. Returns the launcher's exit status: 0 once the run is
 * reported; 111 after reporting a failure of the cgroup, clone, id maps or
 * cgroup attach steps, having cleaned up. Other failures (pipes, signalfd,
 * pidfd_open, poll, wait4) exit through fail (111) without cleaning up. */
int supervise(const struct sandbox_config *config);

/* supervisor.c, shared with fork_server.c */
const char *explain_clone_failure(int error_number);
/* Clones init into new namespaces (run_init, after in_child if given); reports and returns -1 on failure. */
pid_t start_init(const struct sandbox_config *config, const struct bpf_program_buffer *program, int go[2],
                 int outcome[2], int probe[2], int signal_fd, void (*in_child)(void *context), void *context);
int block_control_signals(void);
/* Writes init's id maps and moves it into its cgroup; on failure reports, kills and reaps it, and returns -1. */
int place_init(pid_t init, const struct sandbox_config *config, const struct cgroup_handle *cgroup);
/* The final report of a run: how the command ended, then its totals. */
void report_run(const struct run_outcome *outcome, int init_status, enum run_stop stop,
                struct cgroup_handle *cgroup);

/* fork_server.c: with --fork-server, one slot's life: the skeleton (init and
 * the fork server in new namespaces, in the slot's cgroup), then one run at
 * a time as the service sends them on fd 3, each reported on its own status
 * fd. Returns 0 when the service closes fd 3 or signals; 111 after reporting
 * (on fd 4) a failure of the skeleton or the fork server's death. */
int serve_fork_server(const struct sandbox_config *config);

#endif
