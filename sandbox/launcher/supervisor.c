/*
 * The supervisor stays in the host's namespaces: it starts init in new
 * namespaces, places it in the run's cgroup, waits for it and reports. The
 * report goes out as soon as init hands over the run's outcome (every process
 * of the run gone), before init's exit tears the namespaces down and before
 * the cgroup is removed: the service's verdict waits for neither.
 *
 * On SIGTERM/SIGINT/SIGHUP from the service, when the service closes the
 * status pipe (a crashed service leaves no run behind), or when the run
 * reaches its CPU limit (or, without a cgroup, its memory limit), it asks init
 * to end the run (a byte on the go pipe: init kills and reaps everything,
 * counting CPU time) and, should init not be gone within a second, kills
 * init, which takes the whole PID namespace with it.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct bpf_program_buffer seccomp_program;

const char *explain_clone_failure(int error_number)
{
    switch (error_number) {
    case EPERM:
        return "user namespaces are not permitted here: check kernel.unprivileged_userns_clone, "
               "user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns, or the "
               "seccomp policy of the enclosing container";
    case EINVAL: return "the kernel lacks user, PID, network, mount, IPC or UTS namespaces";
    case ENOSPC: return "user.max_user_namespaces or a namespace count limit is reached";
    case EUSERS: return "too many nested user namespaces";
    default: return "clone with new namespaces failed";
    }
}

int block_control_signals(void)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &signals, NULL) != 0)
        fail_errno("sigprocmask", "blocking control signals");
    int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd < 0)
        fail_errno("signalfd", "watching control signals");
    signal(SIGPIPE, SIG_IGN); /* a gone service shows up as POLLERR, not as a signal */
    return signal_fd;
}

pid_t start_init(const struct sandbox_config *config, const struct bpf_program_buffer *program, int go[2],
                 int outcome[2], int probe[2], int signal_fd, void (*in_child)(void *context), void *context)
{
    /* Raw clone without a stack behaves like fork; init never returns here. */
    pid_t child = (pid_t)syscall(SYS_clone, NAMESPACE_FLAGS | SIGCHLD, NULL, NULL, NULL, 0);
    if (child < 0) {
        report_failure_errno("clone_namespaces", errno, explain_clone_failure(errno));
        return -1;
    }
    if (child == 0) {
        close(go[1]);
        close(outcome[0]);
        close(signal_fd);
        if (probe[0] >= 0)
            close(probe[0]);
        if (in_child != NULL)
            in_child(context);
        run_init(config, program, go[0], outcome[1], probe[1]);
    }
    return child;
}

int place_init(pid_t init, const struct sandbox_config *config, const struct cgroup_handle *cgroup)
{
    bool placed = write_id_maps(init, config) == 0;
    if (placed && cgroup_attach(cgroup, init) != 0) {
        report_failure_errno("cgroup_attach", errno, "placing init in its cgroup");
        placed = false;
    }
    if (!placed) {
        kill(init, SIGKILL);
        waitpid(init, NULL, 0);
        return -1;
    }
    return 0;
}

/* The run's pipes must reach EOF when the sandbox dies, not when we exit. */
static void release_stdio(void)
{
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
        fail_errno("open_dev_null", "/dev/null");
    for (int fd = 0; fd <= PASSED_FD_LAST; fd++)
        dup2(null_fd, fd);
    close(null_fd);
}

enum { KILL_GRACE_MS = 1000 };

static const char *limit_name(enum run_stop stop)
{
    switch (stop) {
    case STOPPED_AT_CPU_LIMIT: return "cpu";
    case STOPPED_AT_MEMORY_LIMIT: return "memory";
    default: return "none";
    }
}

/* The final report: how the command ended, then the run's totals. The
 * cgroup's CPU time covers every process however it ended; init's figure,
 * the fallback, covers what it reaped. */
void report_run(const struct run_outcome *outcome, int init_status, enum run_stop stop,
                struct cgroup_handle *cgroup)
{
    if (outcome->command_ended && WIFEXITED(outcome->command_status))
        report_line("command exit_code=%d", WEXITSTATUS(outcome->command_status));
    else if (outcome->command_ended && WIFSIGNALED(outcome->command_status))
        report_line("command signal=%d", WTERMSIG(outcome->command_status));
    uint64_t peak_bytes = 0, oom_kills = 0;
    cgroup_read_usage(cgroup, &peak_bytes, &oom_kills);
    uint64_t cpu_us = outcome->cpu_us;
    cgroup_read_cpu_us(cgroup, &cpu_us);
    report_line("exit init_status=%d killed=%d cpu_us=%" PRIu64 " maxrss_kb=%" PRId64 " cgroup=%d peak_memory_kb=%" PRIu64
                " oom_kills=%" PRIu64 " limit=%s",
                init_status, stop != RUN_GOING ? 1 : 0, cpu_us, outcome->maxrss_kb, cgroup->active ? 1 : 0,
                peak_bytes / 1024, oom_kills, limit_name(stop));
}

/* Init's outcome, once every process of the run is gone; false if init died without one. */
static bool read_outcome(int outcome_fd, struct run_outcome *outcome)
{
    return read_retrying(outcome_fd, outcome, sizeof *outcome) == (ssize_t)sizeof *outcome;
}

/* Init ends the run when asked on the go pipe; nothing else can ask it. */
static void request_stop(int go_fd, enum run_stop *stop, enum run_stop reason)
{
    if (*stop != RUN_GOING)
        return;
    *stop = reason;
    ssize_t ignored = write(go_fd, (char[]){STOP_REQUEST}, 1);
    (void)ignored;
}

/* Waits for init while watching for a kill request and the run's limits, and
 * reports the run as soon as init hands over its outcome. Returns why we
 * ended the run, if we did. */
static enum run_stop wait_for_init(const struct sandbox_config *config, pid_t init, int signal_fd, int go_fd,
                                   int outcome_fd, int socket_probe, struct cgroup_handle *cgroup, bool *reported)
{
    int pid_fd = (int)syscall(SYS_pidfd_open, init, 0);
    if (pid_fd < 0)
        fail_errno("pidfd_open", "watching init (Linux 5.3 or later is required)");
    struct limit_watch watch;
    int timer_fd = start_limit_watch(&watch, config, init, cgroup, socket_probe);
    enum run_stop stop = RUN_GOING;
    struct pollfd watches[5] = {
        {.fd = pid_fd, .events = POLLIN},
        {.fd = signal_fd, .events = POLLIN},
        {.fd = STATUS_FD, .events = 0}, /* POLLERR once the service closes its end */
        {.fd = outcome_fd, .events = POLLIN},
        {.fd = timer_fd, .events = POLLIN},
    };
    for (;;) {
        int ready = poll(watches, 5, stop != RUN_GOING ? KILL_GRACE_MS : -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", "waiting for init");
        }
        if (ready == 0) {
            kill(init, SIGKILL); /* init did not finish in time */
            continue;
        }
        /* The outcome first: init may have written it and exited since the last poll. */
        if (watches[3].revents & (POLLIN | POLLHUP)) {
            watches[3].fd = -1;
            watches[4].fd = -1;
            struct run_outcome outcome;
            if (read_outcome(outcome_fd, &outcome)) {
                report_run(&outcome, 0, stop, cgroup);
                *reported = true;
            }
        }
        if (watches[0].revents & POLLIN)
            break;
        if (watches[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            ssize_t ignored = read(signal_fd, &info, sizeof info);
            (void)ignored;
            request_stop(go_fd, &stop, STOPPED_BY_SERVICE);
        }
        if (watches[2].revents & (POLLERR | POLLHUP)) {
            watches[2].fd = -1;
            if (!*reported)
                request_stop(go_fd, &stop, STOPPED_BY_SERVICE);
        }
        if (watches[4].revents & POLLIN) {
            enum run_stop reached = check_limits(&watch);
            if (reached != RUN_GOING) {
                watches[4].fd = -1;
                request_stop(go_fd, &stop, reached);
            }
        }
    }
    close(pid_fd);
    if (timer_fd >= 0)
        close(timer_fd);
    return stop;
}

int supervise(const struct sandbox_config *config)
{
    build_seccomp_program(&seccomp_program, cgroup_counts_cpu(&config->cgroup));
    struct cgroup_handle cgroup;
    if (cgroup_create(&config->cgroup, &cgroup) != 0)
        return 111;
    int signal_fd = block_control_signals();
    int go[2], outcome[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(outcome, O_CLOEXEC) != 0)
        fail_errno("pipe", "go and outcome pipes");
    /* Without a cgroup nothing charges socket buffers to the run: the census counts them. */
    int probe[2] = {-1, -1};
    if (!cgroup.active && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, probe) != 0)
        fail_errno("socketpair", "the channel for init's socket-buffer probe");

    pid_t init = start_init(config, &seccomp_program, go, outcome, probe, signal_fd, NULL, NULL);
    if (init < 0) {
        cgroup_destroy(&cgroup);
        return 111;
    }
    close(go[0]);
    close(outcome[1]);
    if (probe[1] >= 0)
        close(probe[1]);
    if (place_init(init, config, &cgroup) != 0) {
        cgroup_destroy(&cgroup);
        return 111;
    }
    if (write(go[1], "g", 1) != 1)
        fail_errno("go", "releasing init");
    release_stdio();
    int socket_probe = probe[0] >= 0 ? receive_socket_memory_probe(probe[0]) : -1;

    bool reported = false;
    enum run_stop stop = wait_for_init(config, init, signal_fd, go[1], outcome[0], socket_probe, &cgroup, &reported);
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    if (wait4(init, &status, 0, &usage) < 0)
        fail_errno("wait4", "reaping init");
    struct run_outcome late_outcome;
    if (!reported && read_outcome(outcome[0], &late_outcome)) { /* init is gone: data or EOF, no wait */
        report_run(&late_outcome, status, stop, &cgroup);
        reported = true;
    }
    if (!reported) {
        /* Init died without an outcome (killed): its rusage still covers what it reaped. */
        struct run_outcome outcome_of_wait = {
            .cpu_us = rusage_cpu_us(&usage),
            .maxrss_kb = usage.ru_maxrss,
        };
        report_run(&outcome_of_wait, status, stop, &cgroup);
    }
    cgroup_destroy(&cgroup);
    close(go[1]);
    return 0;
}
