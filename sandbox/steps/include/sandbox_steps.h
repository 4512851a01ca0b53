/*
 * The setup steps both ways of starting a run share: the launcher's (a new
 * interpreter per run, sandbox/launcher/) and the fork server's (a fork of a
 * loaded interpreter per run, sandbox/fork_run/). Rlimits, credentials, the
 * run's tmpfs mounts, the seccomp filter's installation, the run's pid 1,
 * and the status channel they report failures on.
 *
 * Failures follow launcher.h's rule: a void function exits (status 111)
 * after reporting; an int function returns -1 (noted where it reports).
 */
#ifndef PYSANDBOX_STEPS_H
#define PYSANDBOX_STEPS_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    STATUS_FD = 4,
    PASSED_FD_LAST = 3, /* fds 0..3 reach the command: stdio and the run request */
    MAX_BPF_INSNS = 4096,
};

struct rlimit_spec {
    uint64_t cpu_seconds; /* per process, a backstop to the run-wide CPU limit */
    uint64_t address_space_bytes;
    uint64_t file_size_bytes;
    uint64_t open_files;
    uint64_t processes;
    uint64_t stack_bytes;
};

/* The seccomp program, built once before any fork so that no child allocates. */
struct bpf_program_buffer {
    struct sock_filter insns[MAX_BPF_INSNS];
    unsigned short count;
};

/* report.c: one line per event on the status fd, "key=value" separated by
 * spaces. Reporting never fails (a gone service just does not read it). */
void report_line(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Where lines go: STATUS_FD unless changed (the fork server reports each run on its own fd). */
void report_to(int fd);
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

/* rlimits.c (the command, before its program); exits on failure. */
void apply_rlimits(const struct rlimit_spec *limits);

/* credentials.c; exit on failure. */
void become_sandbox_user(uid_t uid, gid_t gid);
/* Every capability, ambient and bounding ones too; no new privileges; not dumpable. */
void drop_capabilities(void);
/* Keeps CAP_SYS_ADMIN (new namespaces, mounts) and CAP_SETPCAP (to drop the
 * bounding set later) across the next execve as the sandbox user: the fork
 * server needs them for each run, and each run drops them before its program. */
void keep_fork_server_capabilities(void);

/* run_mounts.c: a tmpfs of the run's, owned by the sandbox user, nosuid,
 * nodev, noexec; exits on failure. A run has two, each of the workdir's
 * size: its working directory and RUN_SHM_DIR, where POSIX semaphores and
 * shared memory live (multiprocessing needs them). The supervisor counts
 * both as the run's memory when there is no cgroup to. */
#define RUN_SHM_DIR "/dev/shm"
struct run_tmpfs {
    uint32_t uid;
    uint32_t gid;
    uint64_t bytes;
    uint64_t inodes;
};
void mount_run_tmpfs(const char *path, const struct run_tmpfs *spec, const char *step);

/* seccomp_install.c. Returns -1 with errno and does not report: the caller does. */
int install_seccomp_program(const struct bpf_program_buffer *program);

/* A run of the fork server: what the slot's supervisor (launcher/
 * fork_server.c) sends the fork server (fork_run/) with FORK_RUN_FDS
 * descriptors, in this order. */
struct fork_run_spec {
    struct rlimit_spec rlimits;
    uint64_t workdir_bytes;
    uint64_t workdir_inodes;
    uint32_t uid;
    uint32_t gid;
    char workdir[256];
    bool session;    /* its command is a session's: SESSION_RESUMED_SIGNAL and SIGINT blocked */
    bool rolls_back; /* a session whose failed cells roll back (rollback.c) */
};
enum fork_run_fd {
    FORK_RUN_STDIN,
    FORK_RUN_STDOUT,
    FORK_RUN_STDERR,
    FORK_RUN_REQUEST,
    FORK_RUN_STATUS,  /* the run's status channel, for setup failures */
    FORK_RUN_GO,      /* read by the run's pid 1: the stop request */
    FORK_RUN_OUTCOME, /* a seqpacket socket: the run's pidfd, then its outcome */
    FORK_RUN_FDS,
};

/* fd_passing.c: one message with descriptors (SCM_RIGHTS) on a unix socket.
 * -1 with errno; received descriptors are close-on-exec. receive_with_fds
 * returns the message's length (0 at the end of the stream) and closes
 * descriptors beyond `max` (setting *count to those kept). */
int send_with_fds(int socket, const void *data, size_t size, const int *fds, int count);
ssize_t receive_with_fds(int socket, void *data, size_t size, int *fds, int max, int *count);

/* pid1.c: the run's pid 1, once its command is forked. */

/* What pid 1 tells the supervisor once every process of the run is gone, so
 * the run can be reported before the namespaces are torn down. */
struct run_outcome {
    int32_t command_ended;  /* 0: stopped on request, the command's status is unknown */
    int32_t command_status; /* the command's wait status */
    uint64_t cpu_us;        /* pid 1 and everything it reaped */
    int64_t maxrss_kb;
    /* Not the run's end but a session's rollback (rollback.c): ROLLED_BACK,
     * the command (with this status) and every other process are gone and
     * the snapshot goes on as the command; or why it could not be, before
     * the run's end. */
    int32_t rolled_back;
};
enum { ROLLED_BACK = 1, ROLLBACK_WITHOUT_SNAPSHOT = -1, ROLLBACK_STUCK = -2 };

/* The supervisor's word to pid 1 on the go pipe, after the go byte: stop
 * the run; and for a session (fork_server.c) interrupt its command
 * (SIGINT), pause every process of it (SIGSTOP) between cells, and resume. */
enum { STOP_REQUEST = 's', INTERRUPT_REQUEST = 'i', PAUSE_REQUEST = 'p', RESUME_REQUEST = 'c', ROLLBACK_REQUEST = 'r' };
/* A session's command waits for this signal from pid 1 before each cell
 * (session.py's CellGate), which pid 1 sends its main thread once it has
 * resumed the session for the cell: the cell's request reaches the command
 * by another way than the words reach pid 1, and a process forked while
 * pid 1 was still pausing and resuming the session could stay stopped.
 * Blocked in the command from its start. Not a real-time signal: one is
 * never outstanding twice, and a standard signal is delivered even when the
 * user's signal queue is full (a real-time one is then refused), which a
 * run could fill for every run of its user. Ignored by default, were it
 * ever unblocked. */
#define SESSION_RESUMED_SIGNAL SIGURG

/* Signals blocked or ignored by whoever forked us must not leak into the run. */
void reset_signals(void);
/* A session of its own: nothing of the run shares a session or a process
 * group with its parent, so kill(0, ...) and PRIO_PGRP stay inside. */
void leave_session(const char *step);
/* Reaps the run until the command ends or the supervisor asks on go_fd
 * (a stop request, or its end closing; interrupt, pause and resume
 * requests are carried out on the way), then kills everything else in the
 * PID namespace, reaps it, writes the outcome to outcome_fd and exits 0;
 * 113 if waiting fails. Closes fds 0..PASSED_FD_LAST (but those two) first:
 * only the command and its descendants may hold the run's stdio and request. */
_Noreturn void serve_as_pid1(pid_t command, int go_fd, int outcome_fd, bool rolls_back);

/* rollback.c: a session that rolls back (rolls_back above) keeps a fork of
 * its interpreter taken before each cell, so named (the bootstrap's
 * session.py names it; at most 15 characters). */
#define SNAPSHOT_NAME "pysandbox-snap"
/* The snapshot to roll back to: the newest live process so named whose
 * parent is `command` or pid 1; 0 if there is none. */
pid_t find_snapshot(pid_t command);
/* Kills every process of the namespace but pid 1 and `keep`, reaping them
 * (the command's wait status into *command_status); false if some would
 * not go or /proc cannot be read. */
bool kill_all_but(pid_t keep, int *command_status, pid_t command);

#endif
