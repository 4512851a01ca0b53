#include "sandbox_support.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

int sandbox_pipe_cloexec(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

int sandbox_trim_heap(void)
{
    return malloc_trim(0);
}
