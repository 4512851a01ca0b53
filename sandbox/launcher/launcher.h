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

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    STATUS_FD = 4,
    PASSED_FD_LAST = 3, /* fds 0..3 reach the command */
    MAX_BINDS = 32,
    MAX_SYMLINKS = 16,
    MAX_ENV = 32,
    MAX_BPF_INSNS = 4096,
};

struct symlink_spec {
    const char *target;   /* what the link points to */
    const char *linkpath; /* absolute path inside the sandbox */
};

struct rlimit_spec {
    uint64_t cpu_seconds; /* per process, a backstop to the run-wide CPU limit */
    uint64_t address_space_bytes;
    uint64_t file_size_bytes;
    uint64_t open_files;
    uint64_t processes;
    uint64_t stack_bytes;
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

struct sandbox_config {
    char *const *argv; /* the command, after "--" */
    char *env[MAX_ENV + 1];
    int env_count;
    const char *ro_binds[MAX_BINDS]; /* host paths, mounted read-only at the same path */
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
};

/* The seccomp program, built before clone so that no child allocates. */
struct bpf_program_buffer {
    struct sock_filter insns[MAX_BPF_INSNS];
    unsigned short count;
};

/* options.c. Exits on a bad option (fail, errno=0); otherwise returns 0. */
int parse_options(int argc, char **argv, struct sandbox_config *config);

/* report.c: one line per event on the status fd, "key=value" separated by spaces.
 * Reporting never fails (a gone service just does not read it). */
void report_line(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* An error line without an errno (errno=0 reason=none), and one with the given errno. */
void report_failure(const char *step, const char *detail);
void report_failure_errno(const char *step, int error_number, const char *detail);
/* Report and _exit(111): fail when no system call set errno, fail_errno with
 * errno, fail_with_code with an error number from elsewhere (libseccomp's
 * negative returns). */
_Noreturn void fail(const char *step, const char *detail);
_Noreturn void fail_errno(const char *step, const char *detail);
_Noreturn void fail_with_code(const char *step, int error_number, const char *detail);

/* common.c: helpers that neither report nor exit; -1 with errno set on failure. */
/* One read(2), retried while interrupted (EINTR). */
ssize_t read_retrying(int fd, void *buffer, size_t size);
/* One read of a small file (a cgroup or /proc file), NUL-terminated. */
ssize_t read_small_file(const char *path, char *buffer, size_t size);
/* Writes `text` to an existing file (a cgroup or /proc file) in one write; 0 or -1. */
int write_small_file(const char *path, const char *text);
struct rusage;
/* User plus system CPU time, in microseconds. */
uint64_t rusage_cpu_us(const struct rusage *usage);
/* The pids of a whitespace-separated list (cgroup.procs, /proc/…/children), at most `max`; returns how many. */
int parse_pid_list(const char *text, pid_t *pids, int max);

/* seccomp_policy.c. Without a cgroup that counts CPU time, the run's CPU
 * time is what init reaps, so no process may have its children reaped
 * unseen (SIGCHLD ignored). */
/* Exits on failure (before anything is made); returns 0. */
int build_seccomp_program(struct bpf_program_buffer *program, bool cpu_counted_by_cgroup);
/* Returns -1 with errno and does not report: the caller does. */
int install_seccomp_program(const struct bpf_program_buffer *program);

/* cgroup.c */
struct cgroup_handle {
    bool active;
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
bool cgroup_counts_cpu(const struct cgroup_spec *spec);
/* CPU time of every process that was ever in the cgroup; false if it does not count it. */
bool cgroup_read_cpu_us(const struct cgroup_handle *cgroup, uint64_t *cpu_us);
/* Does not exit: reports a directory it cannot remove and goes on. */
void cgroup_destroy(const struct cgroup_handle *cgroup);

/* userns.c. Reports its failure and returns -1. */
int write_id_maps(pid_t child, const struct sandbox_config *config);

/* filesystem.c (init, between clone and exec); exits on failure. */
void build_filesystem(const struct sandbox_config *config);

/* credentials.c (init); exits on failure. */
void become_sandbox_user(const struct sandbox_config *config);
void drop_capabilities(void);

/* rlimits.c (the command, before exec); exits on failure. */
void apply_rlimits(const struct rlimit_spec *limits);

/* run_census.c: the run's processes seen from the host, for the limits a
 * cgroup would otherwise enforce. Walks init's descendants in /proc. */
struct run_census {
    uint64_t cpu_us;       /* live processes plus everything they and init reaped */
    uint64_t memory_bytes; /* anonymous and shared memory, the working directory's files, socket buffers */
};
/* false, without a report, once init is gone. */
bool take_run_census(pid_t init, const char *workdir, int socket_probe, bool proportional,
                     struct run_census *census);

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

/* init.c */

/* What init tells the supervisor once every process of the run is gone, so
 * the run can be reported before the namespaces are torn down. */
struct run_outcome {
    int32_t command_ended;  /* 0: stopped on request, the command's status is unknown */
    int32_t command_status; /* the command's wait status */
    uint64_t cpu_us;        /* init and everything it reaped */
    int64_t maxrss_kb;
};

/* The supervisor's word to init on the go pipe, after the go byte. */
enum { STOP_REQUEST = 's' };

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

#endif
