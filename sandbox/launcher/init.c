/*
 * pid 1 of the sandbox. It finishes the setup that must happen inside the new
 * namespaces, starts the command as pid 2 and reaps orphans. When the command
 * exits, or the supervisor asks on the go pipe, init kills every process left
 * in the PID namespace (daemons, setsid escapes and stopped processes alike),
 * reaps them so their CPU time is counted, hands the outcome to the supervisor
 * and exits. Should that ever stall, the supervisor's SIGKILL takes the
 * namespace down all the same.
 *
 * Init installs no signal handler: the kernel drops every signal that
 * processes of its own namespace send to a namespace's init unless it has a
 * handler, so nothing the program signals can end the run or change its
 * outcome. Child exits arrive through a signalfd instead, and the stop
 * request through a pipe only the supervisor can write.
 */
#include "launcher.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
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
    if (read_retrying(go_fd, &go, 1) != 1)
        _exit(112); /* the supervisor gave up or died; it has reported why */
}

/* The supervisor keeps its end of the go pipe open while it lives. */
static void exit_if_supervisor_gone(int go_fd)
{
    struct pollfd watch = {.fd = go_fd, .events = POLLIN};
    if (poll(&watch, 1, 0) > 0 && (watch.revents & (POLLHUP | POLLERR)))
        _exit(112);
}

/* A session of its own: nothing of the run shares a session or a process
 * group with the supervisor, so kill(0, ...) and PRIO_PGRP stay inside. */
static void leave_host_session(const char *step)
{
    if (setsid() < 0)
        fail_errno(step, "setsid: a session and process group of its own");
}

/* Child exits as readable events; SIGCHLD stays at its default, so no child
 * of init is ever reaped without init counting its CPU time. */
static int watch_children(void)
{
    sigset_t child_exits;
    sigemptyset(&child_exits);
    sigaddset(&child_exits, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &child_exits, NULL) != 0)
        fail_errno("sigprocmask", "blocking SIGCHLD in init");
    int signal_fd = signalfd(-1, &child_exits, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd < 0)
        fail_errno("signalfd", "watching the run's processes end");
    return signal_fd;
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
        .cpu_us = rusage_cpu_us(&self) + rusage_cpu_us(&children),
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
        fail_errno("close_range", "marking inherited descriptors close-on-exec");
    leave_host_session("setsid_command"); /* not init's group either: kill(0, ...) never reaches pid 1 */
    apply_rlimits(&config->rlimits);
    if (install_seccomp_program(program) != 0)
        fail_errno("seccomp_load", "installing the seccomp filter (does the kernel have CONFIG_SECCOMP_FILTER?)");
    execve(config->argv[0], config->argv, config->env);
    fail_errno("execve", config->argv[0]);
}

/* Reaps whatever has ended; true once the command has, with its status. */
static bool reap_ended(pid_t command, int *command_status)
{
    bool command_ended = false;
    int status = 0;
    pid_t reaped;
    while ((reaped = waitpid(-1, &status, WNOHANG | __WALL)) != 0) {
        if (reaped < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                break;
            _exit(113);
        }
        if (reaped == command) {
            *command_status = status;
            command_ended = true;
        }
    }
    return command_ended;
}

_Noreturn void run_init(const struct sandbox_config *config, const struct bpf_program_buffer *program, int go_fd,
                        int outcome_fd, int probe_channel)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    wait_for_go(go_fd);
    if (probe_channel >= 0)
        send_socket_memory_probe(probe_channel);
    if (unshare(CLONE_NEWCGROUP) != 0)
        fail_errno("unshare_cgroup", "a cgroup namespace hides the host's cgroup paths");
    become_sandbox_user(config);
    if (sethostname(config->hostname, strlen(config->hostname)) != 0)
        fail_errno("sethostname", config->hostname);
    build_filesystem(config);
    drop_capabilities();
    /* Changing credentials cleared the parent-death signal; set it again, then
     * make sure the supervisor did not die in between. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    exit_if_supervisor_gone(go_fd);
    reset_signals();
    leave_host_session("setsid_init");

    pid_t command = fork();
    if (command < 0)
        fail_errno("fork_command", "starting the command");
    if (command == 0)
        run_command(config, program);

    int child_exits = watch_children();
    /* Only the command and its descendants may hold the run's stdio and request pipe. */
    for (int fd = 0; fd <= PASSED_FD_LAST; fd++)
        close(fd);
    struct pollfd watches[2] = {
        {.fd = child_exits, .events = POLLIN},
        {.fd = go_fd, .events = POLLIN}, /* the stop request, or the supervisor's end closing */
    };
    for (;;) {
        int command_status = 0;
        if (reap_ended(command, &command_status))
            finish_run(outcome_fd, true, command_status);
        if (poll(watches, 2, -1) < 0 && errno != EINTR)
            _exit(113);
        if (watches[1].revents != 0)
            finish_run(outcome_fd, false, 0);
        struct signalfd_siginfo drained[8];
        while (read(child_exits, drained, sizeof drained) > 0) {
        }
    }
}
