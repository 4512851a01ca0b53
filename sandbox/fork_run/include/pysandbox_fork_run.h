/*
 * libpysandbox-fork-run: what the fork server (a Python interpreter started
 * once per slot, with its modules loaded) calls through ctypes to start each
 * run as a fork of itself. Between fork and the program, everything is here,
 * in C; the Python side (SandboxRuntime's ForkServerBootstrap) only loops.
 *
 * Descriptors the fork server starts with (launcher/init.c): 3 its control
 * socket to the slot's supervisor, 5 this library, 6 the run's seccomp program.
 */
#ifndef PYSANDBOX_FORK_RUN_H
#define PYSANDBOX_FORK_RUN_H

/* Reads the seccomp program and tells the supervisor the fork server is
 * ready (its modules are loaded). 0, or -1 after printing why to stderr. */
int pysandbox_fork_server_ready(void);

/* Waits for the next run: 1 when one arrived, 0 when the supervisor closed
 * the control socket (the fork server should exit), -1 on an error. Reaps
 * the runs that have ended meanwhile. */
int pysandbox_receive_run(void);

/* Forks the run received last, between PyOS_BeforeFork and
 * PyOS_AfterFork_*: the run's pid 1 (in new PID, mount and IPC namespaces)
 * forks the run's command, which returns 0 here, inside its sandbox (its
 * stdio and request on fds 0-3, rlimits, no capabilities, the seccomp
 * filter). In the fork server it returns pid 1's pid, or -1 after reporting
 * on the run's status channel. */
int pysandbox_fork_run(void);

#endif
