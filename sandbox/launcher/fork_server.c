/*
 * A fork-server slot (--fork-server): the supervisor of one fork server and
 * of the runs it forks, one at a time.
 *
 *   supervisor (host namespaces)   the slot's cgroup, the skeleton, one run
 *     |                            at a time: limits, watch, report
 *     +- skeleton init (pid 1 of new user/pid/net/mount/ipc/uts/cgroup
 *          |   namespaces; the filesystem view; launcher/init.c)
 *          +- fork server (python3 with the bootstrap and preloaded modules;
 *               |   never runs user code; fork_run/ forks each run)
 *               +- run pid 1 -> command    (fork_run/fork_run.c)
 *
 * Descriptors on entry: 0-2 the slot's log (the fork server's stdio), 3 a
 * seqpacket socket from the service, 4 the slot's status channel ("ready",
 * or what failed). Each message on fd 3 is a run: its limit options,
 * NUL-separated ("run\0--memory-bytes\0N\0..."), with six descriptors: the run's
 * stdin, stdout, stderr, request, status channel, and a stop socket (a
 * byte, or its end closing, ends the run; 'p' and a path mount a package
 * layer into it, layer_mount.c). The run is reported on its own status
 * channel exactly as the launcher reports a run of its own (supervisor.c);
 * that channel closes once the run's pid 1 is gone and the slot can take
 * the next run.
 *
 * A session (--session in the run message) is a run that serves cells,
 * one after another, as the service's words on the stop socket say
 * (session_cells.c). The run's memory and --cpu-time-ms limits cover the
 * session's whole life.
 *
 * The runs of a slot live in the slot's cgroup, which they inherit from the
 * fork server at fork: no per-run cgroup, no attach (on cgroup v1 each one
 * waits for an RCU grace period). Each run's limits are set on the slot's
 * cgroup on top of what the fork server holds, and its CPU time, peak memory
 * and OOM kills are read relative to where they stood when it began
 * (cgroup_begin_run).
 */
#include "fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    SERVICE_FD = 3,
    KILL_GRACE_MS = 1000,
    /* Descriptors for the skeleton are moved this high before being placed. */
    HIGH_FD = 100,
};

struct skeleton {
    pid_t init;
    int pid_fd;
    int go;             /* our end: closing it ends the slot */
    int outcome;
    int fork_server_control; /* our end of the fork server's control socket */
    int socket_probe;
};

static uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static struct bpf_program_buffer seccomp_program;
static struct cgroup_handle cgroup;

/* The seccomp program for the fork server to hand each run: a sealed memfd. */
static int seccomp_program_file(const struct sandbox_config *config)
{
    build_seccomp_program(&seccomp_program, cgroup_counts_cpu(&config->cgroup));
    int fd = memfd_create("pysandbox-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    size_t size = seccomp_program.count * sizeof(struct sock_filter);
    if (fd < 0 || write(fd, seccomp_program.insns, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        fail_errno("seccomp_memfd", "handing the seccomp program to the fork server");
    return fd;
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The fork-run library for the fork server to load (from /proc/self/fd/5):
 * a sealed memfd copy, so that every run's /proc/self/maps names
 * "/memfd:pysandbox-fork-run.so", not the host's build folder. */
static int fork_run_library_file(const struct sandbox_config *config)
{
    int library = open(config->fork_run_library, O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (library < 0 || fstat(library, &info) != 0)
        fail_errno("open_fork_run_library", config->fork_run_library);
    /* MFD_EXEC: executable whatever vm.memfd_noexec defaults to; kernels
     * before 6.3 know no such flag (EINVAL), and map any memfd. */
    int fd = memfd_create("pysandbox-fork-run.so", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("pysandbox-fork-run.so", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        fail_errno("fork_run_library_memfd", "an executable memfd (vm.memfd_noexec=2 forbids it; use --isolation exec)");
    for (off_t copied = 0; copied < info.st_size;) {
        ssize_t count = sendfile(fd, library, &copied, (size_t)(info.st_size - copied));
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            fail_errno("fork_run_library_memfd", "copying the library (errno 0: it shrank)");
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        fail_errno("fork_run_library_memfd", "sealing the copy");
    close(library);
    return fd;
}

/* Every descriptor the skeleton's init needs lives above HIGH_FD, so
 * placing the fork server's at 3, 5 and 6 clobbers none of them. */
static void lift(int *fd)
{
    int high = fcntl(*fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high < 0)
        fail_errno("lift_fd", "moving the skeleton's descriptors out of the way");
    close(*fd);
    *fd = high;
}

/* The fork server's descriptors, and the supervisor's end of its control socket. */
struct fork_server_fds {
    int control[2];
    int library;
    int program;
};

/* In the skeleton's init, before run_init: its fork server's descriptors at 3, 5 and 6. */
static void place_fork_server_fds(void *context)
{
    const struct fork_server_fds *fds = context;
    close(fds->control[0]);
    const int sources[3] = {fds->control[1], fds->library, fds->program};
    const int targets[3] = {ZYGOTE_CONTROL_FD, ZYGOTE_LIBRARY_FD, ZYGOTE_SECCOMP_FD};
    for (int i = 0; i < 3; i++) {
        if (dup2(sources[i], targets[i]) != targets[i])
            fail_errno("place_fds", "the fork server's descriptors");
        /* Only the fork server may hold its control socket: its death must close it. */
        close(sources[i]);
    }
}

static int start_skeleton(const struct sandbox_config *config, struct skeleton *skeleton, int signal_fd)
{
    int library = fork_run_library_file(config);
    int program = seccomp_program_file(config);
    int go[2], outcome[2], control[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(outcome, O_CLOEXEC) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0)
        fail_errno("pipe", "the skeleton's go, outcome and control channels");
    int probe[2] = {-1, -1};
    if (!cgroup.active && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, probe) != 0)
        fail_errno("socketpair", "the channel for init's socket-buffer probe");
    int *const lifted[] = {&library, &program, &go[0], &go[1], &outcome[0], &outcome[1], &control[0], &control[1]};
    for (size_t i = 0; i < sizeof lifted / sizeof lifted[0]; i++)
        lift(lifted[i]);
    if (probe[0] >= 0) {
        lift(&probe[0]);
        lift(&probe[1]);
    }

    struct fork_server_fds fork_server = {{control[0], control[1]}, library, program};
    pid_t init = start_init(config, &seccomp_program, go, outcome, probe, signal_fd, place_fork_server_fds, &fork_server);
    if (init < 0)
        return -1;
    close(go[0]);
    close(outcome[1]);
    close(control[1]);
    close(library);
    close(program);
    if (probe[1] >= 0)
        close(probe[1]);
    *skeleton = (struct skeleton){.init = init, .go = go[1], .outcome = outcome[0], .fork_server_control = control[0],
                                  .socket_probe = -1};
    if (place_init(init, config, &cgroup) != 0)
        return -1;
    skeleton->pid_fd = (int)syscall(SYS_pidfd_open, init, 0);
    if (skeleton->pid_fd < 0)
        fail_errno("pidfd_open", "watching the skeleton (Linux 5.3 or later is required)");
    if (write(go[1], "g", 1) != 1)
        fail_errno("go", "releasing the skeleton");
    skeleton->socket_probe = probe[0] >= 0 ? receive_socket_memory_probe(probe[0]) : -1;
    return 0;
}

/* The fork server's "ready" once its modules are loaded; false if it died first. */
static bool wait_until_ready(struct skeleton *skeleton, int signal_fd)
{
    struct pollfd watches[3] = {
        {.fd = skeleton->fork_server_control, .events = POLLIN},
        {.fd = skeleton->pid_fd, .events = POLLIN},
        {.fd = signal_fd, .events = POLLIN},
    };
    for (;;) {
        if (poll(watches, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", "waiting for the fork server");
        }
        if (watches[0].revents & POLLIN) {
            char word[16] = {0};
            if (recv(skeleton->fork_server_control, word, sizeof word - 1, 0) == 5 && strcmp(word, "ready") == 0)
                return true;
        }
        if (watches[0].revents || watches[1].revents || watches[2].revents) {
            report_failure("fork_server_start", "the fork server exited before it was ready; the slot's log says why");
            return false;
        }
    }
}

/* The run's pid 1 in our PID namespace, from its pidfd (fdinfo's "Pid:"). */
static pid_t pid_of(int pid_fd)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pid_fd);
    if (read_small_file(path, text, sizeof text) < 0)
        return -1;
    return parse_fdinfo_pid(text);
}

static void end_run(struct run *run)
{
    const int fds[] = {run->status_fd, run->stop_fd, run->go_fd, run->outcome_fd, run->pid_fd, run->timer_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    report_to(STATUS_FD);
    run->active = false;
}

/* Ends the run for `reason` (the first reason counts); its pid 1 is killed if it lingers. */
static void stop_run(struct run *run, enum run_stop reason)
{
    if (run->stop != RUN_GOING)
        return;
    run->stop = reason;
    run->kill_at_ms = now_ms() + KILL_GRACE_MS;
    ssize_t ignored = write(run->go_fd, (char[]){STOP_REQUEST}, 1);
    (void)ignored;
}

/* A request byte to the run's pid 1 (sandbox_steps.h's *_REQUEST). */
static void tell_pid1(const struct run *run, char request)
{
    ssize_t ignored = write(run->go_fd, &request, 1);
    (void)ignored;
}

/* What session_cells.c or layer_mount.c decided the run needs. */
static void act_on(struct run *run, struct run_actions actions)
{
    if (actions.pid1_request != 0)
        tell_pid1(run, actions.pid1_request);
    if (actions.stop != RUN_GOING)
        stop_run(run, actions.stop);
    else if (actions.rearm_watch)
        rearm_limit_watch(&run->watch);
}

/* The words waiting on the run's stop socket, each done before the next is read; none after one that stops it. */
static void read_stop_words(struct run *run)
{
    struct run_actions actions;
    while (run->config.session ? next_session_word(run, &actions) : next_run_word(run, &actions)) {
        act_on(run, actions);
        if (actions.stop != RUN_GOING)
            return;
    }
}

/* A run message from the service; a run that cannot be started is reported and ended at once. */
static void begin_run(const struct sandbox_config *config, struct skeleton *skeleton, struct run *run,
                      char *text, size_t length, const int fds[6])
{
    *run = (struct run){.active = true, .config = *config, .status_fd = fds[4], .stop_fd = fds[5],
                        .go_fd = -1, .outcome_fd = -1, .pid_fd = -1, .timer_fd = -1, .cgroup = &cgroup};
    report_to(run->status_fd);
    int go[2], outcome[2];
    bool started = parse_run_message(text, length, &run->config) == 0 &&
                   cgroup_begin_run(&cgroup, &run->config.cgroup) == 0;
    if (started && (pipe2(go, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, outcome) != 0)) {
        report_failure_errno("pipe", errno, "the run's go and outcome channels");
        started = false;
    }
    if (started) {
        struct fork_run_spec spec = {
            .rlimits = run->config.rlimits,
            .workdir_bytes = run->config.workdir_bytes,
            .workdir_inodes = run->config.workdir_inodes,
            .uid = run->config.inside_uid,
            .gid = run->config.inside_gid,
            .session = run->config.session,
            .rolls_back = run->config.session && run->config.rolls_back,
        };
        snprintf(spec.workdir, sizeof spec.workdir, "%s", run->config.workdir);
        const int passed[FORK_RUN_FDS] = {fds[0], fds[1], fds[2], fds[3], fds[4], go[0], outcome[1]};
        if (send_with_fds(skeleton->fork_server_control, &spec, sizeof spec, passed, FORK_RUN_FDS) != 0) {
            report_failure_errno("fork_server_send", errno, "handing the run to the fork server");
            started = false;
            close(go[1]);
            close(outcome[0]);
        } else {
            run->go_fd = go[1];
            run->outcome_fd = outcome[0];
        }
        close(go[0]);
        close(outcome[1]);
    }
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    if (!started) {
        struct run_outcome nothing = {0};
        report_run(&nothing, 0, RUN_GOING, &cgroup);
        end_run(run);
    }
}

/* The outcome socket: first the run's pidfd, then its outcome; false at its end. */
static bool read_from_run(struct run *run, struct cgroup_handle *slot_cgroup, int socket_probe)
{
    if (run->pid_fd < 0) {
        char word[8];
        int count = 0;
        if (receive_with_fds(run->outcome_fd, word, sizeof word, &run->pid_fd, 1, &count) <= 0 || count != 1)
            return false;
        run->timer_fd = start_limit_watch(&run->watch, &run->config, pid_of(run->pid_fd), slot_cgroup, socket_probe);
        if (run->cell_running) {
            run->watch.cell_cpu_limit_us = run->cell_cpu_limit_us;
            rearm_limit_watch(&run->watch);
        }
        return true;
    }
    struct run_outcome outcome;
    if (recv(run->outcome_fd, &outcome, sizeof outcome, MSG_DONTWAIT) != (ssize_t)sizeof outcome)
        return false;
    if (outcome.rolled_back != 0) { /* a session's cell, not the run's end */
        report_rollback(run, &outcome);
        return true;
    }
    report_run(&outcome, 0, run->stop, slot_cgroup);
    run->reported = true;
    return true;
}

/* Whether the fork server has ended: its end of the control socket is closed. */
static bool fork_server_gone(const struct skeleton *skeleton)
{
    struct pollfd control = {.fd = skeleton->fork_server_control, .events = POLLIN};
    return poll(&control, 1, 0) > 0 && (control.revents & (POLLHUP | POLLERR));
}

/* The run's pid 1 is gone (or never started): report what is known, and free the slot. */
static void finish_run(struct run *run, const struct skeleton *skeleton)
{
    if (run->cell_running) /* a session's cell the end cut short: its CPU time, as the cgroup counted it */
        act_on(run, end_cell(run));
    if (!run->reported && run->outcome_fd >= 0 && run->pid_fd >= 0)
        read_from_run(run, &cgroup, -1);
    /* Its pid 1 dies with the fork server (parent-death signal), often before we see the fork server go. */
    if (!run->reported && fork_server_gone(skeleton))
        report_failure("fork_server", "the fork server died during the run; the slot is replaced");
    if (!run->reported) {
        struct run_outcome nothing = {0};
        report_run(&nothing, 0, run->stop, &cgroup);
    }
    end_run(run);
}

/* The fork server died: end the run, say why, and let the service replace the slot. */
static void fork_server_died(struct run *run, const struct skeleton *skeleton)
{
    /* First of all: once the run's status channel closes the service takes
     * the slot back, and a closed control socket tells it the slot is gone. */
    close(SERVICE_FD);
    if (run->active) {
        if (run->pid_fd >= 0) {
            syscall(SYS_pidfd_send_signal, run->pid_fd, SIGKILL, NULL, 0);
            struct pollfd gone = {.fd = run->pid_fd, .events = POLLIN};
            poll(&gone, 1, KILL_GRACE_MS);
        }
        finish_run(run, skeleton);
    }
    report_failure("fork_server", "the fork server died; the slot is replaced");
}

enum { W_SERVICE, W_SIGNALS, W_SKELETON, W_FORK_SERVER, W_OUTCOME, W_PID, W_STOP, W_STATUS, W_TIMER, WATCH_COUNT };

/* Runs runs until the service closes fd 3 or signals (true), or the fork server dies (false). */
static bool serve_runs(const struct sandbox_config *config, struct skeleton *skeleton, int signal_fd)
{
    struct run run = {.active = false};
    bool closing = false;
    for (;;) {
        if (closing && !run.active)
            return true;
        struct pollfd watches[WATCH_COUNT] = {
            [W_SERVICE] = {.fd = closing || run.active ? -1 : SERVICE_FD, .events = POLLIN},
            [W_SIGNALS] = {.fd = signal_fd, .events = POLLIN},
            [W_SKELETON] = {.fd = skeleton->pid_fd, .events = POLLIN},
            [W_FORK_SERVER] = {.fd = skeleton->fork_server_control, .events = POLLIN},
            [W_OUTCOME] = {.fd = run.active ? run.outcome_fd : -1, .events = POLLIN},
            [W_PID] = {.fd = run.active ? run.pid_fd : -1, .events = POLLIN},
            [W_STOP] = {.fd = run.active && run.stop == RUN_GOING ? run.stop_fd : -1, .events = POLLIN},
            [W_STATUS] = {.fd = run.active && !run.reported && !run.status_gone ? run.status_fd : -1, .events = 0},
            [W_TIMER] = {.fd = run.active && run.stop == RUN_GOING ? run.timer_fd : -1, .events = POLLIN},
        };
        int timeout = -1;
        if (run.active && run.stop != RUN_GOING) {
            uint64_t now = now_ms();
            timeout = now >= run.kill_at_ms ? 0 : (int)(run.kill_at_ms - now);
        }
        int ready = poll(watches, WATCH_COUNT, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", "serving runs");
        }
        if (run.active && run.stop != RUN_GOING && now_ms() >= run.kill_at_ms) {
            /* The run's pid 1 did not end in time. Without its pidfd (stuck
             * before it sent it), only the whole slot can end it. */
            if (run.pid_fd < 0) {
                report_failure("fork_server", "the run's pid 1 did not start within a second of its stop; the slot is replaced");
                fork_server_died(&run, skeleton);
                return false;
            }
            syscall(SYS_pidfd_send_signal, run.pid_fd, SIGKILL, NULL, 0);
            run.kill_at_ms = UINT64_MAX;
        }
        if (watches[W_SKELETON].revents || watches[W_FORK_SERVER].revents) {
            fork_server_died(&run, skeleton);
            return false;
        }
        if (watches[W_SIGNALS].revents & POLLIN) {
            struct signalfd_siginfo info;
            ssize_t ignored = read(signal_fd, &info, sizeof info);
            (void)ignored;
            closing = true;
            if (run.active)
                stop_run(&run, STOPPED_BY_SERVICE);
        }
        if (watches[W_SERVICE].revents) {
            char text[4096];
            int fds[6], count = 0;
            ssize_t length = receive_with_fds(SERVICE_FD, text, sizeof text - 1, fds, 6, &count);
            if (length <= 0) {
                closing = true;
            } else if (count != 6) {
                for (int i = 0; i < count; i++)
                    close(fds[i]);
                report_failure("run_message", "a run comes with six descriptors");
            } else {
                text[length] = '\0';
                begin_run(config, skeleton, &run, text, (size_t)length, fds);
            }
        }
        if (!run.active)
            continue;
        if ((watches[W_OUTCOME].revents & (POLLIN | POLLHUP)) &&
            !read_from_run(&run, &cgroup, skeleton->socket_probe)) {
            close(run.outcome_fd);
            run.outcome_fd = -1;
            if (run.pid_fd < 0) { /* it failed before it began: it has reported why */
                finish_run(&run, skeleton);
                continue;
            }
        }
        if (watches[W_PID].revents & POLLIN) {
            finish_run(&run, skeleton);
            continue;
        }
        if (watches[W_STOP].revents) {
            read_stop_words(&run);
        }
        if (watches[W_STATUS].revents & (POLLERR | POLLHUP)) {
            run.status_gone = true; /* once: it stays readable for poll */
            stop_run(&run, STOPPED_BY_SERVICE);
        }
        if (watches[W_TIMER].revents & POLLIN) {
            enum run_stop reached = check_limits(&run.watch);
            if (reached == STOPPED_AT_MEMORY_LIMIT && run.config.session)
                act_on(&run, cell_over_memory(&run));
            else if (reached != RUN_GOING)
                stop_run(&run, reached);
            else if (run.watch.cell_limit_reached)
                act_on(&run, interrupt_cell_at_limit(&run));
        }
    }
}

/* Closing the control socket ends the fork server, and with it the skeleton. */
static void stop_skeleton(struct skeleton *skeleton)
{
    close(skeleton->fork_server_control);
    close(skeleton->go);
    struct pollfd gone = {.fd = skeleton->pid_fd, .events = POLLIN};
    if (poll(&gone, 1, KILL_GRACE_MS) <= 0)
        kill(skeleton->init, SIGKILL);
    waitpid(skeleton->init, NULL, 0);
}

int serve_fork_server(const struct sandbox_config *config)
{
    if (cgroup_create(&config->cgroup, &cgroup) != 0)
        return 111;
    int signal_fd = block_control_signals();
    struct skeleton skeleton;
    if (start_skeleton(config, &skeleton, signal_fd) != 0) {
        cgroup_destroy(&cgroup);
        return 111;
    }
    bool served = wait_until_ready(&skeleton, signal_fd);
    if (served) {
        report_line("ready");
        served = serve_runs(config, &skeleton, signal_fd);
    }
    stop_skeleton(&skeleton);
    cgroup_destroy(&cgroup);
    return served ? 0 : 111;
}
