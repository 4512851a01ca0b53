/*
 * A session's rollback, in its pid 1: the bootstrap keeps a fork of the
 * session's interpreter taken before each cell (a snapshot, named
 * SNAPSHOT_NAME), and when a cell ends by a signal, a limit or a stuck
 * interrupt, pid 1 ends every other process of the session and the
 * snapshot becomes its command: the session as it was before the cell.
 *
 * The snapshot waits for SIGUSR2 from pid 1 (its sender's pid says so)
 * before it goes on, so that it starts no process while pid 1 ends the rest.
 *
 * The snapshot is found when it is needed, among the processes of the
 * namespace: the newest so named whose parent is the command (or pid 1,
 * once the command has died). The program can name a process so too; that
 * only chooses what its own session rolls back to.
 */
#include "sandbox_steps.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* One process of the namespace, from /proc/PID/stat: its state, parent and name. */
struct process_entry {
    pid_t pid;
    pid_t parent;
    char state;
    char name[17];
};

static bool read_process(pid_t pid, struct process_entry *entry)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small_file(path, stat, sizeof stat) < 0)
        return false;
    /* "pid (name) state ppid ...": the name may hold spaces and parentheses, so its end is the last ')'. */
    char *open = strchr(stat, '(');
    char *close = strrchr(stat, ')');
    if (open == NULL || close == NULL || close < open || close[1] == '\0')
        return false;
    size_t length = (size_t)(close - open - 1);
    if (length >= sizeof entry->name)
        length = sizeof entry->name - 1;
    memcpy(entry->name, open + 1, length);
    entry->name[length] = '\0';
    int parent = 0;
    if (sscanf(close + 2, "%c %d", &entry->state, &parent) != 2)
        return false;
    entry->pid = pid;
    entry->parent = (pid_t)parent;
    return true;
}

/* Calls `visit` for every other process of the namespace; false if /proc cannot be read. */
static bool each_process(void (*visit)(const struct process_entry *, void *), void *context)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return false;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        struct process_entry process;
        if (*end != '\0' || pid <= 1 || !read_process((pid_t)pid, &process))
            continue;
        visit(&process, context);
    }
    closedir(proc);
    return true;
}

struct snapshot_search {
    pid_t command;
    pid_t found;
};

static void consider_snapshot(const struct process_entry *process, void *context)
{
    struct snapshot_search *search = context;
    if (process->state != 'Z' && strcmp(process->name, SNAPSHOT_NAME) == 0 &&
        (process->parent == search->command || process->parent == 1) && process->pid > search->found)
        search->found = process->pid;
}

pid_t find_snapshot(pid_t command)
{
    struct snapshot_search search = {.command = command, .found = 0};
    return each_process(consider_snapshot, &search) ? search.found : 0;
}

struct survivors {
    pid_t keep;
    int others;
};

static void kill_unless_kept(const struct process_entry *process, void *context)
{
    struct survivors *survivors = context;
    if (process->pid == survivors->keep)
        return;
    survivors->others++;
    if (process->state != 'Z')
        kill(process->pid, SIGKILL);
}

bool kill_all_but(pid_t keep, int *command_status, pid_t command)
{
    /* Each pass kills what it sees and reaps what has died; a process that
     * forks meanwhile is seen by the next pass, and a killed one forks no
     * more. Bounded: one stuck in the kernel leaves the rollback to fail. */
    for (int pass = 0; pass < 2000; pass++) {
        int status;
        pid_t reaped;
        while ((reaped = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
            if (reaped == command)
                *command_status = status;
        }
        struct survivors survivors = {.keep = keep, .others = 0};
        if (!each_process(kill_unless_kept, &survivors))
            return false;
        if (survivors.others == 0)
            return true;
        poll(NULL, 0, 1);
    }
    return false;
}
