/* User namespace id maps, written by the supervisor for its child. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_proc_file(pid_t child, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)child, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t written = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)strlen(text) ? 0 : -1;
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
        report_failure("uid_map", errno, "writing the user namespace's uid map");
        return -1;
    }
    if (geteuid() != 0 && write_proc_file(child, "setgroups", "deny") != 0) {
        report_failure("setgroups_deny", errno, "writing /proc/PID/setgroups");
        return -1;
    }
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)config->inside_gid, (unsigned)config->outside_gid);
    if (write_proc_file(child, "gid_map", map) != 0) {
        report_failure("gid_map", errno, "writing the user namespace's gid map");
        return -1;
    }
    return 0;
}
