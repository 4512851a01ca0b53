/*
 * The fork server's side of a run (see include/pysandbox_fork_run.h).
 *
 *   fork server (pid 2 of the slot's namespaces; CAP_SYS_ADMIN there)
 *     +- run pid 1 (clone: new PID, mount and IPC namespaces)   fresh tmpfses
 *          |     on the working directory and /dev/shm, a fresh /proc; its pidfd to
 *          |     the supervisor; then the run's init (pid1.c)
 *          +- command (pid 2)   the run's descriptors, its own session,
 *                               rlimits, no capabilities, seccomp; returns
 *                               to Python, which runs the program
 *
 * Nothing here runs after the program starts. The slot's user and network
 * namespaces, its read-only root and its cgroup are shared by the runs of
 * one slot, which never overlap; everything a run could leave behind lives
 * in the namespaces that die with its pid 1.
 */
#include "pysandbox_fork_run.h"
#include "sandbox_steps.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    CONTROL_FD = 3,
    SECCOMP_FD = 6,
    /* Received descriptors are moved this high before being placed at 0-4. */
    HIGH_FD = 100,
};

static struct bpf_program_buffer seccomp_program;
static int child_exits = -1; /* a signalfd: ended runs are reaped at once, not at the next run */
static char interpreter_name[16]; /* the command's name, as a new interpreter's would be */
static struct fork_run_spec run_spec;
static int run_fds[FORK_RUN_FDS];
static bool run_pending;
static bool serving; /* this process is the fork server, not a run forked from it */

/* A fork copies only the calling thread: locks other threads hold stay held
 * in every run (a preloaded library's thread pool, say). */
static int count_threads(void)
{
    char stat[1024];
    if (read_small_file("/proc/self/stat", stat, sizeof stat) < 0)
        return -1;
    const char *end = strrchr(stat, ')'); /* after "pid (comm)": num_threads is field 20 */
    int field = 2, threads = -1;
    for (const char *cursor = end; cursor != NULL && *cursor != '\0'; cursor++) {
        if (*cursor == ' ' && ++field == 20) {
            threads = atoi(cursor + 1);
            break;
        }
    }
    return threads;
}

/* A run starts with the fork server's mappings (its interpreter and
 * preloaded modules, hundreds of MB of address space with numpy, pandas and
 * matplotlib): its address-space limit counts from there, as a new
 * interpreter's counts from what it maps itself. */
static void count_address_space_from_inherited(struct rlimit_spec *limits)
{
    char statm[256];
    if (read_small_file("/proc/self/statm", statm, sizeof statm) < 0)
        fail_errno("read_statm", "/proc/self/statm");
    uint64_t inherited = strtoull(statm, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (limits->address_space_bytes <= UINT64_MAX - inherited)
        limits->address_space_bytes += inherited;
}

int pysandbox_fork_server_ready(void)
{
    int threads = count_threads();
    if (threads != 1) {
        dprintf(2, "pysandbox fork server: %d threads after the preloaded modules; a fork server must have one, "
                   "since a fork copies only the calling thread (a library with a thread pool needs it limited, "
                   "e.g. OPENBLAS_NUM_THREADS=1)\n", threads);
        return -1;
    }
    ssize_t size = read(SECCOMP_FD, seccomp_program.insns, sizeof seccomp_program.insns);
    close(SECCOMP_FD);
    if (size <= 0 || size % (ssize_t)sizeof(struct sock_filter) != 0 || (size_t)size == sizeof seccomp_program.insns) {
        dprintf(2, "pysandbox fork server: no seccomp program on fd %d\n", SECCOMP_FD);
        return -1;
    }
    seccomp_program.count = (unsigned short)(size / (ssize_t)sizeof(struct sock_filter));
    sigset_t child_exit;
    sigemptyset(&child_exit);
    sigaddset(&child_exit, SIGCHLD);
    /* Blocked here only: each run's pid 1 resets its mask before anything else runs. */
    if (sigprocmask(SIG_BLOCK, &child_exit, NULL) != 0 ||
        (child_exits = signalfd(-1, &child_exit, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        dprintf(2, "pysandbox fork server: watching runs end: %s\n", strerror(errno));
        return -1;
    }
    prctl(PR_GET_NAME, interpreter_name, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* it holds capabilities in its namespaces: nothing may open its /proc files */
    prctl(PR_SET_NAME, "pysandbox-fork", 0, 0, 0); /* each run's command takes the old name back */
    serving = true;
    if (send_with_fds(CONTROL_FD, "ready", 5, NULL, 0) != 0) {
        dprintf(2, "pysandbox fork server: telling the supervisor: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void close_run_fds(void)
{
    for (int i = 0; i < FORK_RUN_FDS; i++)
        close(run_fds[i]);
    run_pending = false;
}

/* Reaps ended runs while waiting for the next. */
static int wait_for_run(void)
{
    struct pollfd watches[2] = {{.fd = CONTROL_FD, .events = POLLIN}, {.fd = child_exits, .events = POLLIN}};
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (poll(watches, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (watches[1].revents & POLLIN) {
            struct signalfd_siginfo drained[8];
            while (read(child_exits, drained, sizeof drained) > 0) {
            }
        }
        if (watches[0].revents != 0)
            return 0;
    }
}

int pysandbox_receive_run(void)
{
    if (!serving)
        return -1; /* a run calling into the mapped library: its fd 3 is no control socket */
    if (wait_for_run() != 0)
        return -1;
    int count = 0;
    ssize_t length = receive_with_fds(CONTROL_FD, &run_spec, sizeof run_spec, run_fds, FORK_RUN_FDS, &count);
    if (length == 0)
        return 0;
    if (length != (ssize_t)sizeof run_spec || count != FORK_RUN_FDS) {
        for (int i = 0; i < count; i++)
            close(run_fds[i]);
        return -1;
    }
    run_spec.workdir[sizeof run_spec.workdir - 1] = '\0';
    run_pending = true;
    return 1;
}

/* The run's own tmpfses over the slot's working directory and /dev/shm, and a procfs of its PID namespace. */
static void mount_run_filesystems(void)
{
    struct run_tmpfs spec = {.uid = run_spec.uid, .gid = run_spec.gid,
                             .bytes = run_spec.workdir_bytes, .inodes = run_spec.workdir_inodes};
    mount_run_tmpfs(run_spec.workdir, &spec, "mount_workdir");
    mount_run_tmpfs(RUN_SHM_DIR, &spec, "mount_dev_shm");
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("proc", "/proc", "proc", flags, "subset=pid,hidepid=invisible") != 0 &&
        (errno != EINVAL || mount("proc", "/proc", "proc", flags, NULL) != 0))
        fail_errno("mount_proc", "a fresh procfs for the run's PID namespace");
}

/* Under memory pressure in the slot's cgroup, the run dies before the fork server. */
static void offer_to_oom_killer(void)
{
    /* Our /proc files are ours to write only while we are dumpable; the fork server is not. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 || write_small_file("/proc/self/oom_score_adj", "1000") != 0)
        fail_errno("oom_score_adj", "/proc/self/oom_score_adj");
}

static void send_pidfd(void)
{
    int pid_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pid_fd < 0)
        fail_errno("pidfd_open", "the run's pid 1 (Linux 5.3 or later is required)");
    if (send_with_fds(run_fds[FORK_RUN_OUTCOME], "pid", 3, &pid_fd, 1) != 0)
        fail_errno("send_pidfd", "handing the run's pidfd to the supervisor");
    close(pid_fd);
}

/* fds 0-3 the run's stdio and request, 4 its status channel until the program starts. */
static void place_run_fds(void)
{
    int high[STATUS_FD + 1];
    for (int i = 0; i <= STATUS_FD; i++) {
        high[i] = fcntl(run_fds[i], F_DUPFD_CLOEXEC, HIGH_FD);
        if (high[i] < 0)
            fail_errno("place_fds", "moving the run's descriptors");
    }
    for (int i = 0; i <= STATUS_FD; i++) {
        if (dup2(high[i], i) != i)
            fail_errno("place_fds", "placing the run's descriptors");
    }
    if (close_range(STATUS_FD + 1, ~0U, 0) != 0)
        fail_errno("close_range", "closing the fork server's descriptors");
    report_to(STATUS_FD);
}

/* What the command starts with blocked: nothing (the fork server blocks
 * SIGCHLD), but a session's SESSION_RESUMED_SIGNAL and SIGINT, which pid 1
 * may send before the session's code could block them: the session takes
 * both in its cells only (session.py's CellGate). */
static sigset_t command_signal_mask(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    if (run_spec.session) {
        sigaddset(&mask, SESSION_RESUMED_SIGNAL);
        sigaddset(&mask, SIGINT);
    }
    return mask;
}

static void become_command(void)
{
    run_pending = false; /* the program may call into this library (it is mapped): nothing to fork */
    serving = false;
    sigset_t mask = command_signal_mask();
    sigprocmask(SIG_SETMASK, &mask, NULL);
    prctl(PR_SET_NAME, interpreter_name, 0, 0, 0);
    place_run_fds();
    leave_session("setsid_command"); /* not pid 1's group either: kill(0, ...) never reaches it */
    if (chdir(run_spec.workdir) != 0)
        fail_errno("chdir_workdir", run_spec.workdir);
    count_address_space_from_inherited(&run_spec.rlimits);
    apply_rlimits(&run_spec.rlimits);
    drop_capabilities();
    /* As after the execve of a new interpreter: the program may use its own
     * /proc/self files (comm, fd, ...), which a non-dumpable process may not. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
        fail_errno("dumpable", "prctl(PR_SET_DUMPABLE)");
    if (install_seccomp_program(&seccomp_program) != 0)
        fail_errno("seccomp_load", "installing the seccomp filter");
    close(STATUS_FD);
}

/* Everything but the go pipe and the outcome socket: pid 1 holds nothing of the run's I/O. */
static void keep_only_pid1_fds(void)
{
    int low = run_fds[FORK_RUN_GO], high = run_fds[FORK_RUN_OUTCOME];
    if (low > high) {
        int swapped = low;
        low = high;
        high = swapped;
    }
    if ((low > 0 && close_range(0, (unsigned)low - 1, 0) != 0) ||
        (high > low + 1 && close_range((unsigned)low + 1, (unsigned)high - 1, 0) != 0) ||
        close_range((unsigned)high + 1, ~0U, 0) != 0)
        fail_errno("close_range", "closing the run's descriptors in its pid 1");
}

static int start_run_pid1(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* the fork server's death ends the run */
    prctl(PR_SET_NAME, "pysandbox-pid1", 0, 0, 0); /* what it is, in ps and top */
    report_to(run_fds[FORK_RUN_STATUS]);
    mount_run_filesystems();
    offer_to_oom_killer();
    /* As the launcher's init: its /proc files are not the run's to open (the command sets itself dumpable again). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fail_errno("dumpable", "prctl(PR_SET_DUMPABLE) in the run's pid 1");
    send_pidfd();
    leave_session("setsid_init");
    /* Blocked before the fork: the command is born with it (pid 1 resets its own mask). */
    sigset_t command_mask = command_signal_mask();
    sigprocmask(SIG_BLOCK, &command_mask, NULL);
    pid_t command = fork();
    if (command < 0)
        fail_errno("fork_command", "starting the command");
    if (command == 0) {
        become_command();
        return 0;
    }
    /* After the fork: the command keeps the interpreter's dispositions (SIGPIPE
     * and SIGXFSZ ignored, as a new interpreter has them); pid 1 keeps none,
     * or the run could signal it. */
    reset_signals();
    keep_only_pid1_fds();
    serve_as_pid1(command, run_fds[FORK_RUN_GO], run_fds[FORK_RUN_OUTCOME], run_spec.rolls_back);
}

int pysandbox_fork_run(void)
{
    if (!run_pending)
        return -1;
    /* A raw clone without a stack behaves like fork, into new namespaces. */
    pid_t pid1 = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid1 == 0)
        return start_run_pid1();
    if (pid1 < 0) {
        report_to(run_fds[FORK_RUN_STATUS]);
        report_failure_errno("clone_run", errno, "forking the run into new PID, mount and IPC namespaces");
        report_to(STATUS_FD);
    }
    close_run_fds();
    return pid1;
}
