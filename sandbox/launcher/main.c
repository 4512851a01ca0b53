/* pysandbox-launcher: see launcher.h for the process and descriptor layout. */
#include "launcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int fd = 0; fd <= STATUS_FD; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            dprintf(2, "pysandbox-launcher: descriptors 0-4 must be open "
                       "(stdin, stdout, stderr, request, status); see launcher.h\n");
            return 111;
        }
    }
    /* Nothing the service happened to leave open may reach the sandbox. */
    close_range(STATUS_FD + 1, ~0U, 0);
    static struct sandbox_config config;
    parse_options(argc, argv, &config);
    return config.fork_server ? serve_fork_server(&config) : supervise(&config);
}
