/*
 * The run's processes seen from the host, for the limits a cgroup would
 * otherwise enforce: init and its descendants, found through
 * /proc/PID/task/TID/children (every process of the run descends from init,
 * which inherits orphans). The supervisor may read them all: it is root, or
 * the owner of the run's user namespace.
 *
 * CPU time: each live process's own time plus what it reaped (cutime). As
 * long as no process has its children reaped unseen (seccomp keeps SIGCHLD's
 * disposition, see seccomp_policy.c), this is every process of the run.
 * Memory: anonymous and shared pages of each process (resident, or with
 * `proportional` each process's share of pages shared after fork), plus the
 * files in the run's tmpfses (the working directory and /dev/shm), which no
 * process needs to map, and the data queued in the run's sockets. A file
 * that is also mapped counts twice: the census errs towards the limit.
 */
#include "launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

enum { MAX_CENSUS = 4096 };

/* utime + stime + cutime + cstime, in clock ticks, from /proc/PID/stat. */
static bool read_cpu_ticks(pid_t pid, uint64_t *ticks)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return read_small_file(path, text, sizeof text) >= 0 && parse_stat_cpu_ticks(text, ticks);
}

/* Anonymous and shared memory (resident, or each one's share); and from
 * /proc/PID/status the largest resident set it has had. */
static uint64_t read_memory(pid_t pid, bool proportional, uint64_t *peak_resident)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, proportional ? "/proc/%d/smaps_rollup" : "/proc/%d/status", (int)pid);
    if (read_small_file(path, text, sizeof text) < 0)
        return 0;
    return parse_process_memory(text, proportional, peak_resident);
}

/* Pushes the children of every thread of `pid`. */
static void push_children(pid_t pid, pid_t *pending, int *count)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return;
    struct dirent *task;
    while ((task = readdir(tasks)) != NULL) {
        if (task->d_name[0] < '0' || task->d_name[0] > '9')
            continue;
        char children_path[96], text[4096];
        snprintf(children_path, sizeof children_path, "/proc/%d/task/%s/children", (int)pid, task->d_name);
        if (read_small_file(children_path, text, sizeof text) < 0)
            continue;
        *count += parse_pid_list(text, pending + *count, MAX_CENSUS - *count);
    }
    closedir(tasks);
}

/* What a tmpfs of the run's holds, through init's root. */
static uint64_t tmpfs_bytes(pid_t init, const char *inside_path)
{
    char path[4200];
    struct statfs usage;
    snprintf(path, sizeof path, "/proc/%d/root%s", (int)init, inside_path);
    if (statfs(path, &usage) != 0)
        return 0;
    return (uint64_t)(usage.f_blocks - usage.f_bfree) * (uint64_t)usage.f_bsize;
}

/* The run's files: its working directory and /dev/shm. Only once init has
 * switched to the sandbox's root: before that the paths would name host
 * directories. */
static uint64_t run_file_bytes(pid_t init, const char *workdir)
{
    char path[64];
    struct stat init_root, host_root;
    snprintf(path, sizeof path, "/proc/%d/root/", (int)init);
    if (stat(path, &init_root) != 0 || stat("/", &host_root) != 0 ||
        (init_root.st_dev == host_root.st_dev && init_root.st_ino == host_root.st_ino))
        return 0;
    return tmpfs_bytes(init, workdir) + tmpfs_bytes(init, RUN_SHM_DIR);
}

bool take_run_census(pid_t init, const char *workdir, int socket_probe, bool proportional,
                     struct run_census *census)
{
    static pid_t pending[MAX_CENSUS];
    static long ticks_per_second;
    if (ticks_per_second == 0)
        ticks_per_second = sysconf(_SC_CLK_TCK);
    uint64_t ticks = 0;
    if (!read_cpu_ticks(init, &ticks))
        return false;
    census->memory_bytes = add_saturating(run_file_bytes(init, workdir), run_socket_bytes(socket_probe));
    int count = 0;
    push_children(init, pending, &count);
    while (count > 0) {
        pid_t pid = pending[--count];
        uint64_t process_ticks = 0;
        if (!read_cpu_ticks(pid, &process_ticks))
            continue; /* it ended meanwhile: its parent's cutime has it, or will */
        ticks = add_saturating(ticks, process_ticks);
        uint64_t peak_resident = 0;
        census->memory_bytes = add_saturating(census->memory_bytes, read_memory(pid, proportional, &peak_resident));
        if (peak_resident > census->largest_resident_bytes)
            census->largest_resident_bytes = peak_resident;
        push_children(pid, pending, &count);
    }
    census->cpu_us = ticks <= UINT64_MAX / 1000000u ? ticks * 1000000u / (uint64_t)ticks_per_second : UINT64_MAX;
    return true;
}
