/* Command-line options of the launcher. All parsing happens before any fork. */
#include "launcher.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum option_id {
    OPT_RO_BIND = 256,
    OPT_RO_BIND_TO,
    OPT_RO_COPY_TO,
    OPT_SYMLINK,
    OPT_ENV,
    OPT_WORKDIR,
    OPT_WORKDIR_BYTES,
    OPT_WORKDIR_INODES,
    OPT_HOSTNAME,
    OPT_UID,
    OPT_GID,
    OPT_OUTSIDE_UID,
    OPT_OUTSIDE_GID,
    OPT_CPU_TIME_MS,
    OPT_ADDRESS_SPACE,
    OPT_FILE_SIZE,
    OPT_OPEN_FILES,
    OPT_PROCESSES,
    OPT_STACK,
    OPT_CGROUP2,
    OPT_CGROUP1_MEMORY,
    OPT_CGROUP1_PIDS,
    OPT_CGROUP1_CPU,
    OPT_CGROUP1_CPUACCT,
    OPT_CPU_MILLICORES,
    OPT_MEMORY,
    OPT_PIDS,
    OPT_FORK_SERVER,
    OPT_FORK_RUN_LIBRARY,
    OPT_SESSION,
    OPT_ROLLBACK,
};

static const struct option long_options[] = {
    {"ro-bind", required_argument, NULL, OPT_RO_BIND},
    {"ro-bind-to", required_argument, NULL, OPT_RO_BIND_TO},
    {"ro-copy-to", required_argument, NULL, OPT_RO_COPY_TO},
    {"symlink", required_argument, NULL, OPT_SYMLINK},
    {"env", required_argument, NULL, OPT_ENV},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"workdir-bytes", required_argument, NULL, OPT_WORKDIR_BYTES},
    {"workdir-inodes", required_argument, NULL, OPT_WORKDIR_INODES},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"uid", required_argument, NULL, OPT_UID},
    {"gid", required_argument, NULL, OPT_GID},
    {"outside-uid", required_argument, NULL, OPT_OUTSIDE_UID},
    {"outside-gid", required_argument, NULL, OPT_OUTSIDE_GID},
    {"cpu-time-ms", required_argument, NULL, OPT_CPU_TIME_MS},
    {"address-space", required_argument, NULL, OPT_ADDRESS_SPACE},
    {"file-size", required_argument, NULL, OPT_FILE_SIZE},
    {"open-files", required_argument, NULL, OPT_OPEN_FILES},
    {"processes", required_argument, NULL, OPT_PROCESSES},
    {"stack", required_argument, NULL, OPT_STACK},
    {"cgroup2", required_argument, NULL, OPT_CGROUP2},
    {"cgroup1-memory", required_argument, NULL, OPT_CGROUP1_MEMORY},
    {"cgroup1-pids", required_argument, NULL, OPT_CGROUP1_PIDS},
    {"cgroup1-cpu", required_argument, NULL, OPT_CGROUP1_CPU},
    {"cgroup1-cpuacct", required_argument, NULL, OPT_CGROUP1_CPUACCT},
    {"cpu-millicores", required_argument, NULL, OPT_CPU_MILLICORES},
    {"memory-bytes", required_argument, NULL, OPT_MEMORY},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"fork-server", no_argument, NULL, OPT_FORK_SERVER},
    {"fork-run-library", required_argument, NULL, OPT_FORK_RUN_LIBRARY},
    {"session", no_argument, NULL, OPT_SESSION},
    {"rollback", no_argument, NULL, OPT_ROLLBACK},
    {NULL, 0, NULL, 0},
};

static _Noreturn void bad_option(const char *detail)
{
    fail("options", detail);
}

/* A whole number of at most `max`, in decimal digits alone (strtoull would
 * also take leading blanks, a sign, and a minus wrapped around); false, with
 * what is wrong in `detail`, for anything else. */
static bool read_number(const char *name, const char *text, uint64_t max, uint64_t *value, char *detail,
                        size_t size)
{
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || parsed > max) {
        snprintf(detail, size, "--%s needs an integer from 0 to %" PRIu64 ", got '%s'", name, max, text);
        return false;
    }
    *value = (uint64_t)parsed;
    return true;
}

/* parse_options's numbers: a bad one ends the launcher. */
static uint64_t parse_number(const char *name, const char *text, uint64_t max)
{
    uint64_t value = 0;
    char detail[256];
    if (!read_number(name, text, max, &value, detail, sizeof detail))
        bad_option(detail);
    return value;
}

static void require_absolute(const char *name, const char *path)
{
    if (path[0] != '/') {
        char detail[512];
        snprintf(detail, sizeof detail, "--%s needs an absolute path, got '%s'", name, path);
        bad_option(detail);
    }
}

/* The run-wide limit, and per process the whole seconds above it as a backstop. */
static void set_cpu_time(struct sandbox_config *config, uint64_t milliseconds)
{
    config->cpu_time_us = milliseconds * 1000;
    config->rlimits.cpu_seconds = milliseconds == 0 ? RLIM_INFINITY : (milliseconds + 999) / 1000;
}

static void set_defaults(struct sandbox_config *config)
{
    memset(config, 0, sizeof *config);
    config->workdir = "/tmp";
    config->workdir_bytes = 64ull << 20;
    config->workdir_inodes = 4096;
    config->hostname = "sandbox";
    config->inside_uid = 65534;
    config->inside_gid = 65534;
    /* As root, run as an unprivileged host id; otherwise only our own id can be mapped. */
    config->outside_uid = geteuid() == 0 ? 65534 : geteuid();
    config->outside_gid = geteuid() == 0 ? 65534 : getegid();
    config->rlimits = (struct rlimit_spec){
        .address_space_bytes = 512ull << 20,
        .file_size_bytes = 16ull << 20,
        .open_files = 256,
        .processes = 64,
        .stack_bytes = 8ull << 20,
    };
    config->cgroup.memory_bytes = 256ull << 20;
    config->cgroup.pids_max = 64;
    config->cgroup.cpu_millicores = 1000;
    set_cpu_time(config, 10000);
}

/* The largest of each number: what the launcher computes from it must not wrap. */
static const uint64_t MAX_CPU_TIME_MS = UINT64_MAX / 1000; /* in microseconds, cpu_time_us */
static const uint64_t MAX_CPU_MILLICORES = UINT64_MAX / 100000; /* times the CFS period, cgroup.c */
static const uint64_t MAX_ID = UINT32_MAX - 1; /* uid_t and gid_t; (uid_t)-1 is no id */

/* The options that may differ from run to run: 1 if `option` is one and its
 * value is good, 0 if it is not one of them, -1 for a bad value (said in `detail`). */
static int apply_limit_option(int option, const char *value, struct sandbox_config *config, char *detail,
                              size_t size)
{
    uint64_t number = 0;
    const char *name = NULL;
    uint64_t max = UINT64_MAX;
    uint64_t *field = NULL;
    switch (option) {
    case OPT_CPU_TIME_MS: name = "cpu-time-ms"; max = MAX_CPU_TIME_MS; break;
    case OPT_ADDRESS_SPACE: name = "address-space"; field = &config->rlimits.address_space_bytes; break;
    case OPT_FILE_SIZE: name = "file-size"; field = &config->rlimits.file_size_bytes; break;
    case OPT_OPEN_FILES: name = "open-files"; field = &config->rlimits.open_files; break;
    case OPT_PROCESSES: name = "processes"; field = &config->rlimits.processes; break;
    case OPT_STACK: name = "stack"; field = &config->rlimits.stack_bytes; break;
    case OPT_WORKDIR_BYTES: name = "workdir-bytes"; field = &config->workdir_bytes; break;
    case OPT_WORKDIR_INODES: name = "workdir-inodes"; field = &config->workdir_inodes; break;
    case OPT_CPU_MILLICORES: name = "cpu-millicores"; max = MAX_CPU_MILLICORES; field = &config->cgroup.cpu_millicores; break;
    case OPT_MEMORY: name = "memory-bytes"; field = &config->cgroup.memory_bytes; break;
    case OPT_PIDS: name = "pids"; field = &config->cgroup.pids_max; break;
    case OPT_SESSION: config->session = true; return 1;
    case OPT_ROLLBACK: config->rolls_back = true; return 1;
    default: return 0;
    }
    if (!read_number(name, value, max, &number, detail, size))
        return -1;
    if (option == OPT_CPU_TIME_MS)
        set_cpu_time(config, number);
    else
        *field = number;
    return 1;
}

int parse_run_options(int argc, char **argv, struct sandbox_config *config)
{
    optind = 0; /* glibc: start over */
    int option;
    while ((option = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
        char detail[256] = "only limit options may differ from run to run";
        if (apply_limit_option(option, optarg, config, detail, sizeof detail) != 1) {
            report_failure("run_options", detail);
            return -1;
        }
    }
    return 0;
}

int parse_run_message(char *text, size_t length, struct sandbox_config *config)
{
    char *argv[MAX_RUN_ARGS + 1];
    int argc = 0;
    for (size_t offset = 0; offset < length && argc < MAX_RUN_ARGS; offset += strlen(text + offset) + 1)
        argv[argc++] = text + offset;
    argv[argc] = NULL;
    return parse_run_options(argc, argv, config);
}

int parse_options(int argc, char **argv, struct sandbox_config *config)
{
    set_defaults(config);
    int option;
    while ((option = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_RO_BIND:
            require_absolute("ro-bind", optarg);
            if (config->bind_count == MAX_BINDS)
                bad_option("too many --ro-bind options");
            config->ro_binds[config->bind_count++] = (struct bind_spec){optarg, optarg};
            break;
        case OPT_RO_BIND_TO:
        case OPT_RO_COPY_TO: {
            /* SOURCE:INSIDE, both absolute: a host path (or a copy of it) shown elsewhere in the sandbox. */
            char *separator = strchr(optarg, ':');
            if (optarg[0] != '/' || separator == NULL || separator[1] != '/')
                bad_option(option == OPT_RO_BIND_TO ? "--ro-bind-to needs /SOURCE:/INSIDE" : "--ro-copy-to needs /SOURCE:/INSIDE");
            if (config->bind_count == MAX_BINDS)
                bad_option("too many --ro-bind options");
            *separator = '\0';
            config->ro_binds[config->bind_count++] = (struct bind_spec){optarg, separator + 1, option == OPT_RO_COPY_TO};
            break;
        }
        case OPT_SYMLINK: {
            char *separator = strchr(optarg, ':');
            if (separator == NULL || separator == optarg || separator[1] != '/')
                bad_option("--symlink needs TARGET:/ABSOLUTE/LINK");
            if (config->symlink_count == MAX_SYMLINKS)
                bad_option("too many --symlink options");
            *separator = '\0';
            config->symlinks[config->symlink_count++] = (struct symlink_spec){optarg, separator + 1};
            break;
        }
        case OPT_ENV:
            if (strchr(optarg, '=') == NULL)
                bad_option("--env needs KEY=VALUE");
            if (config->env_count == MAX_ENV)
                bad_option("too many --env options");
            config->env[config->env_count++] = optarg;
            break;
        case OPT_WORKDIR:
            require_absolute("workdir", optarg);
            if (strcmp(optarg, "/") == 0)
                bad_option("--workdir cannot be /");
            config->workdir = optarg;
            break;
        case OPT_HOSTNAME: config->hostname = optarg; break;
        case OPT_UID: config->inside_uid = (uid_t)parse_number("uid", optarg, MAX_ID); break;
        case OPT_GID: config->inside_gid = (gid_t)parse_number("gid", optarg, MAX_ID); break;
        case OPT_OUTSIDE_UID: config->outside_uid = (uid_t)parse_number("outside-uid", optarg, MAX_ID); break;
        case OPT_OUTSIDE_GID: config->outside_gid = (gid_t)parse_number("outside-gid", optarg, MAX_ID); break;
        case OPT_CGROUP2: require_absolute("cgroup2", optarg); config->cgroup.v2_parent = optarg; break;
        case OPT_CGROUP1_MEMORY:
            require_absolute("cgroup1-memory", optarg);
            config->cgroup.v1_memory_parent = optarg;
            break;
        case OPT_CGROUP1_PIDS:
            require_absolute("cgroup1-pids", optarg);
            config->cgroup.v1_pids_parent = optarg;
            break;
        case OPT_CGROUP1_CPU:
            require_absolute("cgroup1-cpu", optarg);
            config->cgroup.v1_cpu_parent = optarg;
            break;
        case OPT_CGROUP1_CPUACCT:
            require_absolute("cgroup1-cpuacct", optarg);
            config->cgroup.v1_cpuacct_parent = optarg;
            break;
        case OPT_FORK_SERVER: config->fork_server = true; break;
        case OPT_FORK_RUN_LIBRARY:
            require_absolute("fork-run-library", optarg);
            config->fork_run_library = optarg;
            break;
        default: {
            char detail[256] = "unknown option (see sandbox/launcher/options.c)";
            if (apply_limit_option(option, optarg, config, detail, sizeof detail) != 1)
                bad_option(detail);
        }
        }
    }
    if (optind >= argc)
        bad_option("missing the command to run after --");
    if (argv[optind][0] != '/')
        bad_option("the command must be an absolute path");
    if ((config->cgroup.v1_memory_parent == NULL) != (config->cgroup.v1_pids_parent == NULL))
        bad_option("--cgroup1-memory and --cgroup1-pids go together");
    if (config->fork_server && config->fork_run_library == NULL)
        bad_option("--fork-server needs --fork-run-library");
    config->argv = &argv[optind];
    config->env[config->env_count] = NULL;
    return 0;
}
