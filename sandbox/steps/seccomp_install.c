/* Installing a seccomp program built earlier (seccomp_policy.c builds it). */
#include "sandbox_steps.h"

#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int install_seccomp_program(const struct bpf_program_buffer *program)
{
    struct sock_fprog filter = {.len = program->count, .filter = (struct sock_filter *)program->insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter);
}
