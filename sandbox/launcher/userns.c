/* User namespace id maps, written by the supervisor for its child. */
#include "launcher.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static int write_proc_file(pid_t child, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)child, name);
    return write_small_file(path, text);
}

/*
 * One id inside maps to one unprivileged id outside: a process that escaped
 * would be nobody on the host. Without CAP_SETGID the kernel insists that
 * setgroups is denied before a gid map is written.
 */
int write_id_maps(pid_t child, const struct sandbox_config *config)
{
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)config->inside_uid, (unsigned)config->outside_uid);
    if (write_proc_file(child, "uid_map", map) != 0) {
        report_failure_errno("uid_map", errno, "writing the user namespace's uid map");
        return -1;
    }
    if (geteuid() != 0 && write_proc_file(child, "setgroups", "deny") != 0) {
        report_failure_errno("setgroups_deny", errno, "writing /proc/PID/setgroups");
        return -1;
    }
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)config->inside_gid, (unsigned)config->outside_gid);
    if (write_proc_file(child, "gid_map", map) != 0) {
        report_failure_errno("gid_map", errno, "writing the user namespace's gid map");
        return -1;
    }
    return 0;
}
