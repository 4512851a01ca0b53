/*
 * The run's own cgroup: memory (swap off), pids and CPU bandwidth limits,
 * peak memory, OOM kills and the CPU time of every process that was ever in
 * it (however it ended) read back. cgroup v2, or the v1 memory, pids and
 * (optionally) cpu and cpuacct controllers. The service prepares the parent directories; this file
 * creates one child per run (named after the supervisor's pid) and removes it.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *dir, const char *name, const char *value)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return write_small_file(path, value);
}

static int write_number(const char *dir, const char *name, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    return write_file(dir, name, text);
}

static ssize_t read_file(const char *dir, const char *name, char *buffer, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_small_file(path, buffer, size);
}

static uint64_t read_number(const char *dir, const char *name)
{
    char text[64];
    if (read_file(dir, name, text, sizeof text) < 0)
        return 0;
    return strtoull(text, NULL, 10);
}

/* Finds "key N" in a flat-keyed file such as memory.events. */
static uint64_t read_keyed(const char *dir, const char *name, const char *key)
{
    char text[2048];
    if (read_file(dir, name, text, sizeof text) < 0)
        return 0;
    return parse_keyed_number(text, key);
}

/* Each step reports its own failure and says whether it worked. */
static bool make_run_dir(char *out, size_t size, const char *parent, const char *step)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run-%d", parent, (int)getpid());
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        report_failure_errno(step, errno, path);
        return false;
    }
    snprintf(out, size, "%s", path); /* only a directory we made is removed later */
    return true;
}

static bool set_text(const char *dir, const char *name, const char *value, bool optional)
{
    if (write_file(dir, name, value) == 0 || (optional && errno == ENOENT))
        return true;
    report_failure_errno("cgroup_limit", errno, name);
    return false;
}

static bool set_limit(const char *dir, const char *name, uint64_t value, bool optional)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    return set_text(dir, name, text, optional);
}

/* CFS bandwidth: `millicores` of CPU time per 100 ms period, so one run cannot starve the others. */
enum { CPU_PERIOD_US = 100000 };

static uint64_t cpu_quota_us(const struct cgroup_spec *spec)
{
    return spec->cpu_millicores * CPU_PERIOD_US / 1000;
}

static bool create_v2(const struct cgroup_spec *spec, struct cgroup_handle *cgroup)
{
    char bandwidth[64];
    snprintf(bandwidth, sizeof bandwidth, "%" PRIu64 " %d", cpu_quota_us(spec), CPU_PERIOD_US);
    return make_run_dir(cgroup->v2_dir, sizeof cgroup->v2_dir, spec->v2_parent, "cgroup_mkdir") &&
           set_limit(cgroup->v2_dir, "memory.max", spec->memory_bytes, false) &&
           set_limit(cgroup->v2_dir, "memory.swap.max", 0, true) && /* absent without swap accounting */
           set_limit(cgroup->v2_dir, "pids.max", spec->pids_max, false) &&
           /* cpu.max exists only where the cpu controller is enabled. */
           (spec->cpu_millicores == 0 || set_text(cgroup->v2_dir, "cpu.max", bandwidth, true));
}

static bool create_v1(const struct cgroup_spec *spec, struct cgroup_handle *cgroup)
{
    bool created =
        make_run_dir(cgroup->v1_memory_dir, sizeof cgroup->v1_memory_dir, spec->v1_memory_parent,
                     "cgroup_mkdir_memory") &&
        make_run_dir(cgroup->v1_pids_dir, sizeof cgroup->v1_pids_dir, spec->v1_pids_parent, "cgroup_mkdir_pids") &&
        set_limit(cgroup->v1_memory_dir, "memory.limit_in_bytes", spec->memory_bytes, false) &&
        /* memory+swap equal to memory: no swap. Absent when swap accounting is off. */
        set_limit(cgroup->v1_memory_dir, "memory.memsw.limit_in_bytes", spec->memory_bytes, true) &&
        set_limit(cgroup->v1_pids_dir, "pids.max", spec->pids_max, false);
    if (created && spec->v1_cpuacct_parent != NULL)
        created = make_run_dir(cgroup->v1_cpuacct_dir, sizeof cgroup->v1_cpuacct_dir, spec->v1_cpuacct_parent,
                               "cgroup_mkdir_cpuacct");
    if (!created || spec->v1_cpu_parent == NULL || spec->cpu_millicores == 0)
        return created;
    return make_run_dir(cgroup->v1_cpu_dir, sizeof cgroup->v1_cpu_dir, spec->v1_cpu_parent, "cgroup_mkdir_cpu") &&
           set_limit(cgroup->v1_cpu_dir, "cpu.cfs_period_us", CPU_PERIOD_US, false) &&
           set_limit(cgroup->v1_cpu_dir, "cpu.cfs_quota_us", cpu_quota_us(spec), false);
}

bool cgroup_counts_cpu(const struct cgroup_spec *spec)
{
    return spec->v2_parent != NULL || (spec->v1_memory_parent != NULL && spec->v1_cpuacct_parent != NULL);
}

bool cgroup_read_cpu_us(const struct cgroup_handle *cgroup, uint64_t *cpu_us)
{
    char text[64];
    if (!cgroup->active)
        return false;
    if (cgroup->v2_dir[0] != '\0') {
        /* cpu.stat's usage_usec is there with or without the cpu controller. */
        *cpu_us = read_keyed(cgroup->v2_dir, "cpu.stat", "usage_usec");
        *cpu_us = *cpu_us > cgroup->cpu_base_us ? *cpu_us - cgroup->cpu_base_us : 0;
        return true;
    }
    if (cgroup->v1_cpuacct_dir[0] == '\0' || read_file(cgroup->v1_cpuacct_dir, "cpuacct.usage", text, sizeof text) < 0)
        return false;
    *cpu_us = strtoull(text, NULL, 10) / 1000; /* nanoseconds */
    *cpu_us = *cpu_us > cgroup->cpu_base_us ? *cpu_us - cgroup->cpu_base_us : 0;
    return true;
}

int cgroup_create(const struct cgroup_spec *spec, struct cgroup_handle *cgroup)
{
    memset(cgroup, 0, sizeof *cgroup);
    if (spec->v2_parent == NULL && spec->v1_memory_parent == NULL)
        return 0;
    cgroup->active = true;
    bool created = spec->v2_parent != NULL ? create_v2(spec, cgroup) : create_v1(spec, cgroup);
    if (created)
        return 0;
    cgroup_destroy(cgroup); /* whatever part was made */
    return -1;
}

int cgroup_attach(const struct cgroup_handle *cgroup, pid_t pid)
{
    if (!cgroup->active)
        return 0;
    if (cgroup->v2_dir[0] != '\0')
        return write_number(cgroup->v2_dir, "cgroup.procs", (uint64_t)pid);
    if (write_number(cgroup->v1_memory_dir, "cgroup.procs", (uint64_t)pid) != 0)
        return -1;
    if (cgroup->v1_cpu_dir[0] != '\0' && write_number(cgroup->v1_cpu_dir, "cgroup.procs", (uint64_t)pid) != 0)
        return -1;
    if (cgroup->v1_cpuacct_dir[0] != '\0' &&
        write_number(cgroup->v1_cpuacct_dir, "cgroup.procs", (uint64_t)pid) != 0)
        return -1;
    return write_number(cgroup->v1_pids_dir, "cgroup.procs", (uint64_t)pid);
}

void cgroup_read_usage(const struct cgroup_handle *cgroup, uint64_t *peak_bytes, uint64_t *oom_kills)
{
    *peak_bytes = 0;
    *oom_kills = 0;
    if (!cgroup->active)
        return;
    if (cgroup->v2_dir[0] != '\0') {
        *peak_bytes = read_number(cgroup->v2_dir, "memory.peak");
        *oom_kills = read_keyed(cgroup->v2_dir, "memory.events", "oom_kill");
    } else {
        *peak_bytes = read_number(cgroup->v1_memory_dir, "memory.max_usage_in_bytes");
        *oom_kills = read_keyed(cgroup->v1_memory_dir, "memory.oom_control", "oom_kill");
    }
    *peak_bytes = *peak_bytes > cgroup->memory_base_bytes ? *peak_bytes - cgroup->memory_base_bytes : 0;
    *oom_kills = *oom_kills > cgroup->oom_kills_base ? *oom_kills - cgroup->oom_kills_base : 0;
}

void cgroup_reset_peak(const struct cgroup_handle *cgroup)
{
    /* memory.peak on v2 resets only for the descriptor that wrote to it (Linux 6.12): not kept open here. */
    if (cgroup->active && cgroup->v2_dir[0] == '\0')
        set_limit(cgroup->v1_memory_dir, "memory.max_usage_in_bytes", 0, false);
}

/* Raising a v1 limit means memsw first (it may never be below the memory
 * limit), lowering means memory first. */
static bool set_v1_memory(const char *dir, uint64_t bytes)
{
    uint64_t current = read_number(dir, "memory.limit_in_bytes");
    if (bytes >= current)
        return set_limit(dir, "memory.memsw.limit_in_bytes", bytes, true) &&
               set_limit(dir, "memory.limit_in_bytes", bytes, false);
    return set_limit(dir, "memory.limit_in_bytes", bytes, false) &&
           set_limit(dir, "memory.memsw.limit_in_bytes", bytes, true);
}

int cgroup_begin_run(struct cgroup_handle *cgroup, const struct cgroup_spec *spec)
{
    if (!cgroup->active)
        return 0;
    cgroup->cpu_base_us = 0;
    cgroup->memory_base_bytes = 0;
    cgroup->oom_kills_base = 0;
    uint64_t ignored_peak, oom_kills = 0, cpu_us = 0;
    cgroup_read_usage(cgroup, &ignored_peak, &oom_kills);
    cgroup_read_cpu_us(cgroup, &cpu_us);
    cgroup->oom_kills_base = oom_kills;
    cgroup->cpu_base_us = cpu_us;
    /* The fork server, skeleton init and their page cache; the run gets its limit on top, and
     * pids for itself and those two (three with its own pid 1). */
    bool set;
    if (cgroup->v2_dir[0] != '\0') {
        cgroup->memory_base_bytes = read_number(cgroup->v2_dir, "memory.current");
        char bandwidth[64];
        snprintf(bandwidth, sizeof bandwidth, "%" PRIu64 " %d", cpu_quota_us(spec), CPU_PERIOD_US);
        set = set_limit(cgroup->v2_dir, "memory.max", cgroup->memory_base_bytes + spec->memory_bytes, false) &&
              set_limit(cgroup->v2_dir, "pids.max", spec->pids_max + 3, false) &&
              (spec->cpu_millicores == 0 || set_text(cgroup->v2_dir, "cpu.max", bandwidth, true));
    } else {
        cgroup->memory_base_bytes = read_number(cgroup->v1_memory_dir, "memory.usage_in_bytes");
        set = set_v1_memory(cgroup->v1_memory_dir, cgroup->memory_base_bytes + spec->memory_bytes) &&
              set_limit(cgroup->v1_memory_dir, "memory.max_usage_in_bytes", 0, false) &&
              set_limit(cgroup->v1_pids_dir, "pids.max", spec->pids_max + 3, false) &&
              (cgroup->v1_cpu_dir[0] == '\0' || spec->cpu_millicores == 0 ||
               set_limit(cgroup->v1_cpu_dir, "cpu.cfs_quota_us", cpu_quota_us(spec), false));
    }
    return set ? 0 : -1;
}

/* Kills whatever is left in a v1 cgroup; the PID namespace normally leaves nothing. */
static void kill_members(const char *dir)
{
    char text[4096];
    pid_t members[1024];
    if (read_file(dir, "cgroup.procs", text, sizeof text) <= 0)
        return;
    int count = parse_pid_list(text, members, 1024);
    for (int i = 0; i < count; i++)
        kill(members[i], SIGKILL);
}

static void remove_dir(const char *dir)
{
    /* Removal fails with EBUSY until the last member is reaped; that takes microseconds. */
    for (int attempt = 0; attempt < 200; attempt++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return;
        if (errno != EBUSY) {
            report_failure_errno("cgroup_rmdir", errno, dir);
            return;
        }
        usleep(5000);
    }
    report_failure_errno("cgroup_rmdir", EBUSY, dir);
}

void cgroup_destroy(const struct cgroup_handle *cgroup)
{
    if (!cgroup->active)
        return;
    if (cgroup->v2_dir[0] != '\0') {
        if (write_file(cgroup->v2_dir, "cgroup.kill", "1") != 0)
            kill_members(cgroup->v2_dir); /* kernels before 5.14 */
        remove_dir(cgroup->v2_dir);
        return;
    }
    const char *const v1_dirs[] = {cgroup->v1_pids_dir, cgroup->v1_memory_dir, cgroup->v1_cpu_dir,
                                   cgroup->v1_cpuacct_dir};
    for (size_t i = 0; i < sizeof v1_dirs / sizeof v1_dirs[0]; i++) {
        if (v1_dirs[i][0] != '\0') {
            kill_members(v1_dirs[i]);
            remove_dir(v1_dirs[i]);
        }
    }
}
