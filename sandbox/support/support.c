#include "sandbox_support.h"

#include <fcntl.h>
#include <unistd.h>

int sandbox_pipe_cloexec(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}
