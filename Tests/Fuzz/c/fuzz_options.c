/*
 * The launcher's command line (sandbox/launcher/options.c, parse_options):
 * the input is its arguments after argv[0], NUL-separated. A bad option
 * ends the launcher (fail, before anything is made): the harness returns
 * there. A parsed configuration must hold together: counts within their
 * arrays, every path option absolute, the command an absolute path.
 */
#include "fuzz_stubs.h"
#include "launcher.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_WORDS = 256 };

static void check(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_options: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = "pysandbox-launcher";
    for (size_t offset = 0; offset < size && argc <= MAX_WORDS; offset += strlen(text + offset) + 1)
        argv[argc++] = text + offset;
    argv[argc] = NULL;

    static struct sandbox_config config;
    jmp_buf back;
    fuzz_fail_return = &back;
    opterr = 0; /* getopt says nothing of unknown options: the log would fill with it */
    optind = 0;
    if (setjmp(back) == 0) {
        parse_options(argc, argv, &config);
        check(config.bind_count >= 0 && config.bind_count <= MAX_BINDS, "bind_count out of range");
        check(config.symlink_count >= 0 && config.symlink_count <= MAX_SYMLINKS, "symlink_count out of range");
        check(config.env_count >= 0 && config.env_count <= MAX_ENV, "env_count out of range");
        check(config.env[config.env_count] == NULL, "env not NULL-terminated");
        for (int i = 0; i < config.bind_count; i++)
            check(config.ro_binds[i].source[0] == '/' && config.ro_binds[i].inside[0] == '/', "a bind is not absolute");
        for (int i = 0; i < config.symlink_count; i++)
            check(config.symlinks[i].linkpath[0] == '/', "a symlink is not absolute");
        check(config.workdir[0] == '/' && strcmp(config.workdir, "/") != 0, "bad workdir");
        check(config.argv != NULL && config.argv[0] != NULL && config.argv[0][0] == '/', "bad command");
        check(!config.fork_server || config.fork_run_library != NULL, "fork server without its library");
    }
    fuzz_fail_return = NULL;
    free(text);
    return 0;
}
