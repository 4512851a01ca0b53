/* The run's private tmpfs mounts, the same whichever way the run starts. */
#include "sandbox_steps.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/mount.h>

void mount_run_tmpfs(const char *path, const struct run_tmpfs *spec, const char *step)
{
    char options[160];
    snprintf(options, sizeof options, "mode=0700,uid=%u,gid=%u,size=%" PRIu64 ",nr_inodes=%" PRIu64,
             (unsigned)spec->uid, (unsigned)spec->gid, spec->bytes, spec->inodes);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0)
        fail_errno(step, options);
}
