/*
 * pid 1 of the sandbox. It finishes the setup that must happen inside the new
 * namespaces, starts the command as pid 2 and reaps orphans. When the command
 * exits, or the supervisor sends SIGTERM, init kills every process left in the
 * PID namespace (daemons, setsid escapes and stopped processes alike), reaps
 * them so their CPU time is counted, hands the outcome to the supervisor and
 * exits. Should that ever stall, the
 * supervisor's SIGKILL takes the namespace down all the same.
 */
#include "launcher.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Signals blocked or ignored by the supervisor must not leak into the run. */
static void reset_signals(void)
{
    for (int signal_number = 1; signal_number < NSIG; signal_number++)
        signal(signal_number, SIG_DFL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
}

static void wait_for_go(int go_fd)
{
    char go = 0;
    ssize_t length;
    do {
        length = read(go_fd, &go, 1);
    } while (length < 0 && errno == EINTR);
    if (length != 1)
        _exit(112); /* the supervisor gave up or died; it has reported why */
}

/* The supervisor keeps its end of the go pipe open while it lives. */
static void exit_if_supervisor_gone(int go_fd)
{
    struct pollfd watch = {.fd = go_fd, .events = POLLIN};
    if (poll(&watch, 1, 0) > 0 && (watch.revents & (POLLHUP | POLLERR)))
        _exit(112);
}

static volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

/* Signals without a handler never reach a PID namespace's init, so the
 * supervisor's SIGTERM needs one; it only interrupts waitpid. */
static void accept_stop_requests(void)
{
    struct sigaction action = {.sa_handler = request_stop};
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0)
        fail("sigaction", "SIGTERM handler of init");
}

static uint64_t microseconds(struct timeval time)
{
    return (uint64_t)time.tv_sec * 1000000u + (uint64_t)time.tv_usec;
}

/* Kills everything else in the namespace and reaps it (reaping adds each
 * process's CPU time to our children's), then hands the outcome to the
 * supervisor, which reports it at once: our exit, which tears down the
 * namespaces, takes a while and is nobody's business. */
static _Noreturn void finish_run(int outcome_fd, bool command_ended, int command_status)
{
    kill(-1, SIGKILL);
    while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {
    }
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    struct run_outcome outcome = {
        .command_ended = command_ended,
        .command_status = command_status,
        .cpu_us = microseconds(self.ru_utime) + microseconds(self.ru_stime) + microseconds(children.ru_utime) +
                  microseconds(children.ru_stime),
        .maxrss_kb = children.ru_maxrss > self.ru_maxrss ? children.ru_maxrss : self.ru_maxrss,
    };
    ssize_t ignored = write(outcome_fd, &outcome, sizeof outcome); /* a pipe write this small is atomic */
    (void)ignored;
    _exit(0);
}

static _Noreturn void run_command(const struct sandbox_config *config, const struct bpf_program_buffer *program)
{
    /* Keep the status fd only until exec, for reporting a failure of the steps below. */
    if (close_range(PASSED_FD_LAST + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        fail("close_range", "marking inherited descriptors close-on-exec");
    apply_rlimits(&config->rlimits);
    if (install_seccomp_program(program) != 0)
        fail("seccomp_load", "installing the seccomp filter (does the kernel have CONFIG_SECCOMP_FILTER?)");
    execve(config->argv[0], config->argv, config->env);
    fail("execve", config->argv[0]);
}

_Noreturn void run_init(const struct sandbox_config *config, const struct bpf_program_buffer *program, int go_fd,
                        int outcome_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    wait_for_go(go_fd);
    if (unshare(CLONE_NEWCGROUP) != 0)
        fail("unshare_cgroup", "a cgroup namespace hides the host's cgroup paths");
    become_sandbox_user(config);
    if (sethostname(config->hostname, strlen(config->hostname)) != 0)
        fail("sethostname", config->hostname);
    build_filesystem(config);
    drop_capabilities();
    /* Changing credentials cleared the parent-death signal; set it again, then
     * make sure the supervisor did not die in between. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    exit_if_supervisor_gone(go_fd);
    reset_signals();

    pid_t command = fork();
    if (command < 0)
        fail("fork_command", "starting the command");
    if (command == 0)
        run_command(config, program);

    accept_stop_requests();
    /* Only the command and its descendants may hold the run's stdio and request pipe. */
    for (int fd = 0; fd <= PASSED_FD_LAST; fd++)
        close(fd);
    for (;;) {
        int status = 0;
        pid_t reaped = waitpid(-1, &status, __WALL);
        if (reaped == command)
            finish_run(outcome_fd, true, status);
        if (stop_requested)
            finish_run(outcome_fd, false, 0);
        if (reaped < 0 && errno != EINTR)
            _exit(113);
    }
}
