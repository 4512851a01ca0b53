/*
 * pid 1 of the sandbox. It finishes the setup that must happen inside the new
 * namespaces, starts the command as pid 2 and then serves as the run's pid 1
 * (sandbox_steps.h, pid1.c): it reaps orphans and, when the command exits or
 * the supervisor asks, kills and reaps the rest and hands over the outcome.
 *
 * With --fork-server the command is the fork server: it keeps the
 * capabilities it needs to give each run its own namespaces and mounts, and
 * gets no rlimits or seccomp filter of a run's, since it never runs user
 * code; each run it forks drops them all before its program (fork_run/).
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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

static _Noreturn void run_command(const struct sandbox_config *config, const struct bpf_program_buffer *program)
{
    /* Keep the status fd only until exec, for reporting a failure of the steps below. */
    unsigned int first_closed = config->fork_server ? ZYGOTE_SECCOMP_FD + 1 : PASSED_FD_LAST + 1;
    if (close_range(first_closed, ~0U, CLOSE_RANGE_CLOEXEC) != 0 ||
        (config->fork_server && fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0))
        fail_errno("close_range", "marking inherited descriptors close-on-exec");
    leave_session("setsid_command"); /* not init's group either: kill(0, ...) never reaches pid 1 */
    if (config->fork_server) {
        execve(config->argv[0], config->argv, config->env);
        fail_errno("execve", config->argv[0]);
    }
    apply_rlimits(&config->rlimits);
    if (install_seccomp_program(program) != 0)
        fail_errno("seccomp_load", "installing the seccomp filter (does the kernel have CONFIG_SECCOMP_FILTER?)");
    execve(config->argv[0], config->argv, config->env);
    fail_errno("execve", config->argv[0]);
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
    become_sandbox_user(config->inside_uid, config->inside_gid);
    if (sethostname(config->hostname, strlen(config->hostname)) != 0)
        fail_errno("sethostname", config->hostname);
    build_filesystem(config);
    if (config->fork_server)
        keep_fork_server_capabilities();
    else
        drop_capabilities();
    /* Changing credentials cleared the parent-death signal; set it again, then
     * make sure the supervisor did not die in between. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    exit_if_supervisor_gone(go_fd);
    reset_signals();
    leave_session("setsid_init");

    pid_t command = fork();
    if (command < 0)
        fail_errno("fork_command", "starting the command");
    if (command == 0)
        run_command(config, program);

    serve_as_pid1(command, go_fd, outcome_fd, false); /* only forked sessions roll back */
}
