/*
 * pid 1 of a run, once its command is forked. When the command exits, or
 * the supervisor asks on the go pipe, it kills every process left in the PID
 * namespace (daemons, setsid escapes and stopped processes alike), reaps them
 * so their CPU time is counted, hands the outcome to the supervisor and
 * exits. Should that ever stall, the supervisor's SIGKILL takes the
 * namespace down all the same.
 *
 * Pid 1 installs no signal handler: the kernel drops every signal that
 * processes of its own namespace send to a namespace's init unless it has a
 * handler, so nothing the program signals can end the run or change its
 * outcome. Child exits arrive through a signalfd instead, and the stop
 * request through a pipe only the supervisor can write.
 *
 * A session's pid 1 also interrupts the command (SIGINT: KeyboardInterrupt
 * in Python) and, between its cells, stops every process of the run and
 * lets them go on at the next (and then tells the command, which waits for
 * that before the cell starts): what a cell leaves running uses no CPU
 * while the session waits. kill(-1, ...) from a namespace's init reaches
 * every process of the namespace but itself. A session that rolls back
 * (rollback.c) does not end when its command dies of a signal, or when the
 * supervisor asks for a rollback: its snapshot becomes the command.
 */
#include "sandbox_steps.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void reset_signals(void)
{
    for (int signal_number = 1; signal_number < NSIG; signal_number++)
        signal(signal_number, SIG_DFL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
}

void leave_session(const char *step)
{
    if (setsid() < 0)
        fail_errno(step, "setsid: a session and process group of its own");
}

/* Child exits as readable events; SIGCHLD stays at its default, so no child
 * of pid 1 is ever reaped without it counting its CPU time. */
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
 * process's CPU time to our children's), then hands the outcome over: our
 * exit, which tears down the namespaces, takes a while and is nobody's business. */
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
    ssize_t ignored = write(outcome_fd, &outcome, sizeof outcome); /* one small write: atomic */
    (void)ignored;
    _exit(0);
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

/* Whether the cell under way has been rolled back: a second request for
 * it (its CPU limit and the service's wall clock, at once) is the same
 * request, not one more cell to undo. A cell begins with RESUME_REQUEST. */
static bool cell_rolled_back;

/* The snapshot goes on as the command, everything else of the session
 * ended: the supervisor hears of it (the outcome socket keeps messages
 * apart) and the session goes on. False if there is no snapshot to go on. */
static bool roll_back(pid_t *command, int command_status, int outcome_fd)
{
    pid_t snapshot = find_snapshot(*command);
    bool rolled_back = snapshot > 0 && kill_all_but(snapshot, &command_status, *command);
    struct run_outcome report = {
        .command_ended = 1,
        .command_status = command_status,
        .rolled_back = rolled_back ? ROLLED_BACK : snapshot > 0 ? ROLLBACK_STUCK : ROLLBACK_WITHOUT_SNAPSHOT,
    };
    ssize_t ignored = write(outcome_fd, &report, sizeof report);
    (void)ignored;
    if (rolled_back) {
        cell_rolled_back = true;
        *command = snapshot;
        /* Its word to go on: only pid 1's SIGUSR2 counts (it waits for one from pid 1). */
        kill(snapshot, SIGUSR2);
        kill(snapshot, SIGCONT);
    }
    return rolled_back;
}

/* One word from the supervisor; false when it asks to stop (or is gone). */
static bool carry_out_request(int go_fd, pid_t *command, int outcome_fd, bool rolls_back)
{
    char word = 0;
    ssize_t count = read_retrying(go_fd, &word, 1);
    if (count < 0 && errno == EAGAIN)
        return true;
    switch (count == 1 ? word : STOP_REQUEST) {
    case INTERRUPT_REQUEST:
        /* To its main thread, where Python takes signals: one that a thread
         * a cell started took would not cut the main thread's sleep short. */
        syscall(SYS_tgkill, *command, *command, SIGINT);
        return true;
    case PAUSE_REQUEST: kill(-1, SIGSTOP); return true;
    case RESUME_REQUEST:
        cell_rolled_back = false;
        kill(-1, SIGCONT);
        /* After everything went on; to its main thread, which waits for it
         * (a thread a cell started, with another mask, must not take it). */
        syscall(SYS_tgkill, *command, *command, SESSION_RESUMED_SIGNAL);
        return true;
    case ROLLBACK_REQUEST:
        if (!rolls_back)
            return false;
        return cell_rolled_back || roll_back(command, W_EXITCODE(0, SIGKILL), outcome_fd);
    default: return false;
    }
}

_Noreturn void serve_as_pid1(pid_t command, int go_fd, int outcome_fd, bool rolls_back)
{
    /* Before the signalfd is made, which may take one of these numbers. */
    for (int fd = 0; fd <= PASSED_FD_LAST; fd++) {
        if (fd != go_fd && fd != outcome_fd)
            close(fd);
    }
    int child_exits = watch_children();
    struct pollfd watches[2] = {
        {.fd = child_exits, .events = POLLIN},
        {.fd = go_fd, .events = POLLIN}, /* the stop request, or the supervisor's end closing */
    };
    for (;;) {
        int command_status = 0;
        /* A command that exits ends the session; one a signal ended is rolled back when the session can. */
        if (reap_ended(command, &command_status) &&
            !(rolls_back && WIFSIGNALED(command_status) && roll_back(&command, command_status, outcome_fd)))
            finish_run(outcome_fd, true, command_status);
        if (poll(watches, 2, -1) < 0 && errno != EINTR)
            _exit(113);
        if (watches[1].revents != 0 && !carry_out_request(go_fd, &command, outcome_fd, rolls_back))
            finish_run(outcome_fd, false, 0);
        struct signalfd_siginfo drained[8];
        while (read(child_exits, drained, sizeof drained) > 0) {
        }
    }
}
