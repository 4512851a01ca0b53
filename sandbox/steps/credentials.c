/* Identity inside the sandbox: the mapped unprivileged ids, no capabilities. */
#include "sandbox_steps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Called first in the new user namespace. The uid we start with is unmapped
 * there, so the kernel keeps our namespace capabilities across this change;
 * files we then create are owned by the mapped id.
 */
void become_sandbox_user(uid_t uid, gid_t gid)
{
    /* Fails with EPERM when setgroups is denied (unprivileged service); harmless then. */
    if (setgroups(0, NULL) != 0 && errno != EPERM)
        fail_errno("setgroups", "dropping supplementary groups");
    if (setresgid(gid, gid, gid) != 0)
        fail_errno("setresgid", "switching to the sandbox group");
    if (setresuid(uid, uid, uid) != 0)
        fail_errno("setresuid", "switching to the sandbox user");
}

void drop_capabilities(void)
{
    for (unsigned long cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            fail_errno("capbset_drop", "dropping the capability bounding set");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail_errno("cap_ambient", "clearing ambient capabilities");
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capset, &header, data) != 0)
        fail_errno("capset", "clearing capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_errno("no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fail_errno("dumpable", "prctl(PR_SET_DUMPABLE)");
}

void keep_fork_server_capabilities(void)
{
    static const int kept[] = {CAP_SYS_ADMIN, CAP_SETPCAP};
    for (unsigned long cap = 0; cap <= 63; cap++) {
        if (cap != CAP_SYS_ADMIN && cap != CAP_SETPCAP && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
            errno != EINVAL)
            fail_errno("capbset_drop", "narrowing the fork server's bounding set");
    }
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0}};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        data[0].effective |= 1u << kept[i];
        data[0].permitted |= 1u << kept[i];
        data[0].inheritable |= 1u << kept[i];
    }
    if (syscall(SYS_capset, &header, data) != 0)
        fail_errno("capset", "keeping the fork server's capabilities");
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, kept[i], 0, 0) != 0)
            fail_errno("cap_ambient", "raising the fork server's ambient capabilities");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_errno("no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)");
}
