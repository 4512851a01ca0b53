/*
 * The seccomp policy: one table, default deny.
 *
 * Anything not listed fails with EPERM so that Python raises a clean
 * PermissionError. A syscall from another architecture (i386 via int 0x80,
 * x32) kills the whole process. The "deny" rows repeat the default on purpose:
 * they name the kernel attack surface we shut and say why.
 */
#include "launcher.h"

#include <errno.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

enum rule_kind {
    ALLOW,        /* always allowed */
    ALLOW_IF,     /* allowed when the argument test holds, EPERM otherwise */
    ALLOW_IF_BOTH, /* allowed when both argument tests hold */
    ALLOW_UNLESS, /* allowed unless an int argument has one value (and, if given, when the test holds) */
    DENY,         /* EPERM, listed for the record */
    DENY_ENOSYS,  /* pretend the call does not exist, so libc falls back */
};

/* Which runs a row is for: some calls are only dangerous where no cgroup counts the run's CPU time. */
enum rule_scope {
    EVERY_RUN,
    CPU_COUNTED_BY_CGROUP,
    CPU_COUNTED_BY_INIT,
};

/* For ALLOW_UNLESS: the argument and the one value it may not have. */
struct forbidden_value {
    unsigned int arg;
    uint32_t value;
};

struct syscall_rule {
    const char *name;
    enum rule_kind kind;
    struct scmp_arg_cmp test; /* for ALLOW_IF and ALLOW_IF_BOTH; optional for ALLOW_UNLESS */
    const char *why;
    struct scmp_arg_cmp second_test; /* for ALLOW_IF_BOTH */
    struct forbidden_value unless;   /* for ALLOW_UNLESS */
    enum rule_scope scope;
};

#define NEW_NAMESPACE_FLAGS \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
     CLONE_NEWCGROUP | CLONE_NEWTIME)

#define ARG_EQ(index, value) SCMP_CMP((index), SCMP_CMP_EQ, (scmp_datum_t)(value))
/* int arguments: the kernel reads the low 32 bits only, whatever the caller left above them. */
#define INT_ARG_EQ(index, value) SCMP_CMP((index), SCMP_CMP_MASKED_EQ, 0xFFFFFFFFull, (scmp_datum_t)(uint32_t)(value))
#define NO_TEST {0}
/* pid 1 is the sandbox's init: the program may not change its limits or scheduling. */
#define NOT_INIT(index) .unless = {(index), 1}
#define NO_BITS(index, mask) SCMP_CMP((index), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(mask), 0)

static const struct syscall_rule policy[] = {
    /* Files and descriptors: the only writable filesystem is the run's tmpfs. */
    {"read", ALLOW}, {"write", ALLOW}, {"readv", ALLOW}, {"writev", ALLOW},
    {"pread64", ALLOW}, {"pwrite64", ALLOW}, {"preadv", ALLOW}, {"pwritev", ALLOW},
    {"preadv2", ALLOW}, {"pwritev2", ALLOW}, {"open", ALLOW}, {"openat", ALLOW},
    {"close", ALLOW}, {"close_range", ALLOW}, {"lseek", ALLOW}, {"stat", ALLOW},
    {"fstat", ALLOW}, {"lstat", ALLOW}, {"newfstatat", ALLOW}, {"statx", ALLOW},
    {"access", ALLOW}, {"faccessat", ALLOW}, {"faccessat2", ALLOW}, {"readlink", ALLOW},
    {"readlinkat", ALLOW}, {"getdents", ALLOW}, {"getdents64", ALLOW}, {"getcwd", ALLOW},
    {"chdir", ALLOW}, {"fchdir", ALLOW}, {"mkdir", ALLOW}, {"mkdirat", ALLOW},
    {"rmdir", ALLOW}, {"unlink", ALLOW}, {"unlinkat", ALLOW}, {"rename", ALLOW},
    {"renameat", ALLOW}, {"renameat2", ALLOW}, {"link", ALLOW}, {"linkat", ALLOW},
    {"symlink", ALLOW}, {"symlinkat", ALLOW}, {"chmod", ALLOW}, {"fchmod", ALLOW},
    {"fchmodat", ALLOW}, {"truncate", ALLOW}, {"ftruncate", ALLOW}, {"fsync", ALLOW},
    {"fdatasync", ALLOW}, {"fallocate", ALLOW}, {"fadvise64", ALLOW}, {"flock", ALLOW},
    {"fcntl", ALLOW}, {"dup", ALLOW}, {"dup2", ALLOW}, {"dup3", ALLOW}, {"pipe", ALLOW},
    {"pipe2", ALLOW}, {"umask", ALLOW}, {"utime", ALLOW}, {"utimes", ALLOW},
    {"utimensat", ALLOW}, {"futimesat", ALLOW}, {"statfs", ALLOW}, {"fstatfs", ALLOW},
    {"sendfile", ALLOW}, {"copy_file_range", ALLOW},
    {"poll", ALLOW}, {"ppoll", ALLOW}, {"select", ALLOW}, {"pselect6", ALLOW},
    {"epoll_create", ALLOW}, {"epoll_create1", ALLOW}, {"epoll_ctl", ALLOW},
    {"epoll_wait", ALLOW}, {"epoll_pwait", ALLOW}, {"epoll_pwait2", ALLOW},
    {"eventfd", ALLOW}, {"eventfd2", ALLOW}, {"timerfd_create", ALLOW},
    {"timerfd_settime", ALLOW}, {"timerfd_gettime", ALLOW}, {"signalfd", ALLOW},
    {"signalfd4", ALLOW},
    /* Terminal queries only: isatty(), the window size, non-blocking and close-on-exec. */
    {"ioctl", ALLOW_IF, ARG_EQ(1, TCGETS), "isatty()"},
    {"ioctl", ALLOW_IF, ARG_EQ(1, TIOCGWINSZ), "os.get_terminal_size()"},
    {"ioctl", ALLOW_IF, ARG_EQ(1, FIONREAD), "bytes available"},
    {"ioctl", ALLOW_IF, ARG_EQ(1, FIONBIO), "non-blocking mode"},
    {"ioctl", ALLOW_IF, ARG_EQ(1, FIOCLEX), "close-on-exec"},
    {"ioctl", ALLOW_IF, ARG_EQ(1, FIONCLEX), "close-on-exec"},

    /* Memory. */
    {"brk", ALLOW}, {"mmap", ALLOW}, {"munmap", ALLOW}, {"mremap", ALLOW},
    {"mprotect", ALLOW}, {"madvise", ALLOW}, {"msync", ALLOW}, {"mincore", ALLOW},

    /* Processes and threads, confined to the run's own PID namespace and cgroup. */
    {"clone", ALLOW_IF, NO_BITS(0, NEW_NAMESPACE_FLAGS), "threads and fork, never new namespaces"},
    {"clone3", DENY_ENOSYS, {0}, "its flags live in memory a filter cannot read; libc falls back to clone"},
    {"fork", ALLOW}, {"vfork", ALLOW}, {"execve", ALLOW}, {"execveat", ALLOW},
    {"exit", ALLOW}, {"exit_group", ALLOW}, {"wait4", ALLOW}, {"waitid", ALLOW},
    {"kill", ALLOW}, {"tkill", ALLOW}, {"tgkill", ALLOW}, {"getpid", ALLOW},
    {"getppid", ALLOW}, {"gettid", ALLOW}, {"getpgrp", ALLOW}, {"getpgid", ALLOW},
    {"setpgid", ALLOW}, {"getsid", ALLOW}, {"setsid", ALLOW}, {"set_tid_address", ALLOW},
    {"set_robust_list", ALLOW}, {"get_robust_list", ALLOW}, {"rseq", ALLOW},
    {"futex", ALLOW}, {"futex_waitv", ALLOW}, {"arch_prctl", ALLOW}, {"sched_yield", ALLOW},
    {"sched_getaffinity", ALLOW}, {"sched_getparam", ALLOW},
    {"sched_getscheduler", ALLOW}, {"sched_get_priority_max", ALLOW},
    {"sched_get_priority_min", ALLOW}, {"getpriority", ALLOW},
    {"sched_setaffinity", ALLOW_UNLESS, NO_TEST, "any process of the run but init", {0}, NOT_INIT(0)},
    {"prlimit64", ALLOW_UNLESS, NO_TEST, "any process of the run but init", {0}, NOT_INIT(0)},
    /* Init is the leader of process group 1; PRIO_USER would reach it as the same user. */
    {"setpriority", ALLOW_UNLESS, INT_ARG_EQ(0, PRIO_PROCESS), "any process of the run but init", {0}, NOT_INIT(1)},
    {"setpriority", ALLOW_UNLESS, INT_ARG_EQ(0, PRIO_PGRP), "any group of the run but init's", {0}, NOT_INIT(1)},
    {"getrlimit", ALLOW}, {"setrlimit", ALLOW}, {"getrusage", ALLOW},
    {"times", ALLOW}, {"getuid", ALLOW}, {"geteuid", ALLOW}, {"getgid", ALLOW},
    {"getegid", ALLOW}, {"getresuid", ALLOW}, {"getresgid", ALLOW}, {"getgroups", ALLOW},
    {"capget", ALLOW}, {"uname", ALLOW}, {"getcpu", ALLOW},
    {"getrandom", ALLOW}, {"restart_syscall", ALLOW}, {"pause", ALLOW}, {"alarm", ALLOW},
    {"getitimer", ALLOW}, {"setitimer", ALLOW}, {"nanosleep", ALLOW},
    {"clock_nanosleep", ALLOW}, {"clock_gettime", ALLOW}, {"clock_getres", ALLOW},
    {"gettimeofday", ALLOW}, {"time", ALLOW},
    {"rt_sigaction", ALLOW, NO_TEST, "", {0}, {0}, CPU_COUNTED_BY_CGROUP},
    /* Without a cgroup the run's CPU time is what init reaps: a process that
     * ignores SIGCHLD (or sets SA_NOCLDWAIT) has its children reaped unseen. */
    {"rt_sigaction", ALLOW_UNLESS, NO_TEST, "any signal but SIGCHLD", {0}, {0, SIGCHLD}, CPU_COUNTED_BY_INIT},
    {"rt_sigaction", ALLOW_IF, ARG_EQ(1, 0), "reading SIGCHLD's disposition", {0}, {0}, CPU_COUNTED_BY_INIT},
    {"rt_sigprocmask", ALLOW}, {"rt_sigreturn", ALLOW}, {"rt_sigsuspend", ALLOW},
    {"rt_sigpending", ALLOW}, {"rt_sigtimedwait", ALLOW}, {"rt_sigqueueinfo", ALLOW},
    {"rt_tgsigqueueinfo", ALLOW}, {"sigaltstack", ALLOW},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_SET_NAME), "thread names"},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_GET_NAME), "thread names"},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_GET_DUMPABLE), "read only"},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_GET_NO_NEW_PRIVS), "read only"},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_GET_SECCOMP), "read only"},
    {"prctl", ALLOW_IF, ARG_EQ(0, PR_SET_PDEATHSIG), "multiprocessing helpers"},
    /* Only ever to 0: some libraries make themselves non-dumpable to guard
     * secrets. Nothing relies on the run being dumpable: the supervisor reads
     * its processes as root or as the owner of its user namespace. */
    {"prctl", ALLOW_IF_BOTH, ARG_EQ(0, PR_SET_DUMPABLE), "a process may make itself non-dumpable",
     ARG_EQ(1, 0)},

    /* Sockets: local only. AF_UNIX reaches nothing outside (no host paths are
     * mounted, and the abstract namespace belongs to the run's network
     * namespace); asyncio needs socketpair() for its self-pipe. */
    {"socket", ALLOW_IF, ARG_EQ(0, AF_UNIX), "local sockets only"},
    {"socketpair", ALLOW_IF, ARG_EQ(0, AF_UNIX), "local sockets only"},
    {"connect", ALLOW}, {"bind", ALLOW}, {"listen", ALLOW}, {"accept", ALLOW},
    {"accept4", ALLOW}, {"sendto", ALLOW}, {"recvfrom", ALLOW}, {"sendmsg", ALLOW},
    {"recvmsg", ALLOW}, {"sendmmsg", ALLOW}, {"recvmmsg", ALLOW}, {"shutdown", ALLOW},
    {"getsockname", ALLOW}, {"getpeername", ALLOW}, {"setsockopt", ALLOW},
    {"getsockopt", ALLOW},

    /* Denied: other processes' memory, the filesystem layout, namespaces. */
    {"ptrace", DENY, {0}, "inspect or control another process"},
    {"process_vm_readv", DENY, {0}, "read another process's memory"},
    {"process_vm_writev", DENY, {0}, "write another process's memory"},
    {"kcmp", DENY, {0}, "compare other processes' resources"},
    {"pidfd_getfd", DENY, {0}, "steal another process's descriptors"},
    {"mount", DENY, {0}, "change the filesystem view"},
    {"umount2", DENY, {0}, "reveal what the sandbox hides"},
    {"pivot_root", DENY, {0}, "change the root"}, {"chroot", DENY, {0}, "change the root"},
    {"open_tree", DENY, {0}, "new mount API"}, {"move_mount", DENY, {0}, "new mount API"},
    {"fsopen", DENY, {0}, "new mount API"}, {"fsmount", DENY, {0}, "new mount API"},
    {"fsconfig", DENY, {0}, "new mount API"}, {"fspick", DENY, {0}, "new mount API"},
    {"mount_setattr", DENY, {0}, "new mount API"},
    {"unshare", DENY, {0}, "new namespaces are kernel attack surface"},
    {"setns", DENY, {0}, "join another namespace"},
    {"open_by_handle_at", DENY, {0}, "opens files by handle, bypassing the mount view"},
    {"name_to_handle_at", DENY, {0}, "pairs with open_by_handle_at"},
    /* Denied: kernel subsystems with a record of exploitable bugs. */
    {"keyctl", DENY, {0}, "kernel keyrings"}, {"add_key", DENY, {0}, "kernel keyrings"},
    {"request_key", DENY, {0}, "kernel keyrings"}, {"bpf", DENY, {0}, "eBPF"},
    {"perf_event_open", DENY, {0}, "performance counters, side channels"},
    {"userfaultfd", DENY, {0}, "stalls the kernel on page faults, a race-exploit helper"},
    {"io_uring_setup", DENY, {0}, "io_uring"}, {"io_uring_enter", DENY, {0}, "io_uring"},
    {"io_uring_register", DENY, {0}, "io_uring"},
    {"init_module", DENY, {0}, "kernel modules"}, {"finit_module", DENY, {0}, "kernel modules"},
    {"delete_module", DENY, {0}, "kernel modules"}, {"kexec_load", DENY, {0}, "replace the kernel"},
    {"kexec_file_load", DENY, {0}, "replace the kernel"}, {"reboot", DENY, {0}, "host power"},
    {"swapon", DENY, {0}, "host swap"}, {"swapoff", DENY, {0}, "host swap"},
    {"acct", DENY, {0}, "process accounting"}, {"quotactl", DENY, {0}, "disk quotas"},
    {"syslog", DENY, {0}, "kernel log"}, {"iopl", DENY, {0}, "port I/O"},
    {"ioperm", DENY, {0}, "port I/O"}, {"modify_ldt", DENY, {0}, "segment tables"},
    {"personality", DENY, {0}, "legacy execution domains weaken ASLR"},
    {"fanotify_init", DENY, {0}, "filesystem-wide monitoring"},
    {"inotify_init", DENY, {0}, "not needed"}, {"inotify_init1", DENY, {0}, "not needed"},
    {"lookup_dcookie", DENY, {0}, "profiling"}, {"vhangup", DENY, {0}, "terminals"},
    {"mbind", DENY, {0}, "NUMA policy"}, {"set_mempolicy", DENY, {0}, "NUMA policy"},
    {"migrate_pages", DENY, {0}, "NUMA policy"}, {"move_pages", DENY, {0}, "NUMA policy"},
    {"process_madvise", DENY, {0}, "another process's memory"},
    {"seccomp", DENY, {0}, "the filter is final"},
    /* Denied: memory that no limit of the process sees, and what it enables. */
    {"memfd_create", DENY, {0}, "files in memory outside RLIMIT_AS and the working directory's size; "
                                "exec of copied binaries despite the noexec working directory"},
    {"sysinfo", DENY, {0}, "host uptime, load, memory and process count"},
    /* Denied: clocks, host identity and credentials. */
    {"settimeofday", DENY, {0}, "host clock"}, {"clock_settime", DENY, {0}, "host clock"},
    {"clock_adjtime", DENY, {0}, "host clock"}, {"adjtimex", DENY, {0}, "host clock"},
    {"sethostname", DENY, {0}, "identity"}, {"setdomainname", DENY, {0}, "identity"},
    {"setuid", DENY, {0}, "credentials"}, {"setgid", DENY, {0}, "credentials"},
    {"setreuid", DENY, {0}, "credentials"}, {"setregid", DENY, {0}, "credentials"},
    {"setresuid", DENY, {0}, "credentials"}, {"setresgid", DENY, {0}, "credentials"},
    {"setgroups", DENY, {0}, "credentials"}, {"setfsuid", DENY, {0}, "credentials"},
    {"setfsgid", DENY, {0}, "credentials"}, {"capset", DENY, {0}, "credentials"},
    {"mknod", DENY, {0}, "device nodes"}, {"mknodat", DENY, {0}, "device nodes"},
    {"chown", DENY, {0}, "ownership"}, {"fchown", DENY, {0}, "ownership"},
    {"lchown", DENY, {0}, "ownership"}, {"fchownat", DENY, {0}, "ownership"},
};

/*
 * "Allowed unless the int argument equals V": libseccomp compares full 64-bit
 * values, one test per argument, so the inequality becomes one rule per bit:
 * allowed if any of the low 32 bits differs from V's. Upper bits are ignored
 * as the kernel ignores them.
 */
static int add_unless_rules(scmp_filter_ctx context, int number, const struct syscall_rule *rule)
{
    bool has_test = rule->test.op != 0;
    for (unsigned int bit = 0; bit < 32; bit++) {
        scmp_datum_t mask = (scmp_datum_t)1 << bit;
        struct scmp_arg_cmp differs = SCMP_CMP(rule->unless.arg, SCMP_CMP_MASKED_EQ, mask, ~(scmp_datum_t)rule->unless.value & mask);
        int result = has_test ? seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 2, rule->test, differs)
                              : seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 1, differs);
        if (result < 0)
            return result;
    }
    return 0;
}

static int add_rule(scmp_filter_ctx context, const struct syscall_rule *rule)
{
    int number = seccomp_syscall_resolve_name(rule->name);
    if (number == __NR_SCMP_ERROR)
        return 0; /* not a syscall on this architecture */
    switch (rule->kind) {
    case ALLOW_UNLESS: return add_unless_rules(context, number, rule);
    case ALLOW: return seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 0);
    case ALLOW_IF: return seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 1, rule->test);
    case ALLOW_IF_BOTH:
        return seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 2, rule->test, rule->second_test);
    case DENY: return seccomp_rule_add(context, SCMP_ACT_ERRNO(EPERM), number, 0);
    case DENY_ENOSYS: return seccomp_rule_add(context, SCMP_ACT_ERRNO(ENOSYS), number, 0);
    }
    return -EINVAL;
}

/* DENY rows equal the default action; libseccomp refuses those, so they are
 * documentation only and skipped when building. */
static bool needs_rule(const struct syscall_rule *rule, bool cpu_counted_by_cgroup)
{
    if (rule->kind == DENY)
        return false;
    switch (rule->scope) {
    case EVERY_RUN: return true;
    case CPU_COUNTED_BY_CGROUP: return cpu_counted_by_cgroup;
    case CPU_COUNTED_BY_INIT: return !cpu_counted_by_cgroup;
    }
    return true;
}

int build_seccomp_program(struct bpf_program_buffer *program, bool cpu_counted_by_cgroup)
{
    scmp_filter_ctx context = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (context == NULL)
        fail("seccomp_init", "libseccomp could not create a filter"); /* it says nothing of why */
    int result = seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (result < 0)
        fail_with_code("seccomp_badarch", -result, "kill-process action unavailable (kernel before 4.14?)");
    /* A binary tree of syscall numbers instead of a linear chain: every syscall pays for the filter. */
    result = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (result < 0)
        fail_with_code("seccomp_optimize", -result, "binary-tree filter layout");
    for (size_t i = 0; i < sizeof policy / sizeof policy[0]; i++) {
        if (!needs_rule(&policy[i], cpu_counted_by_cgroup))
            continue;
        result = add_rule(context, &policy[i]);
        if (result < 0) {
            char detail[128];
            snprintf(detail, sizeof detail, "rule for %s", policy[i].name);
            fail_with_code("seccomp_rule", -result, detail);
        }
    }
    int memory_file = memfd_create("seccomp-bpf", MFD_CLOEXEC);
    if (memory_file < 0)
        fail_errno("seccomp_export", "memfd_create");
    result = seccomp_export_bpf(context, memory_file);
    seccomp_release(context);
    if (result < 0)
        fail_with_code("seccomp_export", -result, "seccomp_export_bpf");
    ssize_t size = pread(memory_file, program->insns, sizeof program->insns, 0);
    close(memory_file);
    if (size < 0)
        fail_errno("seccomp_export", "reading the exported program");
    if (size == 0 || size % (ssize_t)sizeof(struct sock_filter) != 0 || (size_t)size == sizeof program->insns)
        fail_with_code("seccomp_export", E2BIG, "reading the exported program");
    program->count = (unsigned short)(size / (ssize_t)sizeof(struct sock_filter));
    return 0;
}
