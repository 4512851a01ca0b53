/*
 * The filesystem view, built by init in its own mount namespace:
 *
 *   /            tmpfs, read-only once populated
 *   <ro-binds>   host paths the interpreter needs, read-only, nosuid, nodev
 *   <ro-copies>  the service's own files (--ro-copy-to), copied into the root
 *                tmpfs (and bound from there over a path in a bind): no host
 *                path shows as a mount's root in /proc/self/mountinfo
 *   <symlinks>   e.g. /lib -> usr/lib on merged-/usr hosts
 *   /dev         null, zero, full, random, urandom and the /proc/self/fd links
 *   /proc        a fresh procfs of the run's PID namespace, pids only
 *   /etc         passwd, group and hosts naming only the sandbox user
 *   <workdir>    the run's private tmpfs, size- and inode-limited
 *   /dev/shm     another, as large, for POSIX semaphores and shared memory
 *
 * Bind sources are opened before anything is mounted over them and bound
 * through /proc/self/fd, so no host path is hidden by the staging mount.
 * No allocation (this runs between fork and exec): fixed-size buffers, each
 * owned by the function that declares it.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STAGING "/tmp"
/* Where a copy goes when its path lies in a read-only bind: bound from here over it. */
#define COPY_FOLDER "/etc/pysandbox"

enum {
    /* The service's files are a few KiB (a font list, a notice); the root tmpfs holds them. */
    COPY_MAX_BYTES = 1 << 20,
    COPY_MAX_FILES = 16,
};

static const char *const device_names[] = {"null", "zero", "full", "random", "urandom"};
enum { DEVICE_COUNT = sizeof device_names / sizeof device_names[0] };

static int bind_source_fds[MAX_BINDS];
static int device_fds[DEVICE_COUNT];
/* A path below the staging root, in storage the caller owns. */
struct staged_path {
    char text[sizeof STAGING + 4096];
};

static const char *staged(struct staged_path *out, const char *inside_path)
{
    snprintf(out->text, sizeof out->text, STAGING "%s", inside_path);
    return out->text;
}

/* An opened descriptor as a path mount(2) accepts, in storage the caller owns. */
struct fd_path {
    char text[32];
};

static const char *fd_path(struct fd_path *out, int fd)
{
    snprintf(out->text, sizeof out->text, "/proc/self/fd/%d", fd);
    return out->text;
}

/* mkdir -p for an absolute path below the staging root. */
static void make_dirs(const char *inside_path)
{
    char partial[4096];
    struct staged_path staged_partial;
    size_t length = strlen(inside_path);
    if (length >= sizeof partial)
        fail("mkdir", inside_path); /* too long */
    for (size_t i = 1; i <= length; i++) {
        if (inside_path[i] == '/' || inside_path[i] == '\0') {
            memcpy(partial, inside_path, i);
            partial[i] = '\0';
            if (mkdir(staged(&staged_partial, partial), 0755) != 0 && errno != EEXIST)
                fail_errno("mkdir", partial);
        }
    }
}

static void make_parent_dirs(const char *inside_path)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", inside_path);
    char *slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        make_dirs(parent);
    }
}

static void write_text_file(const char *inside_path, const char *text)
{
    struct staged_path path;
    int fd = open(staged(&path, inside_path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        fail_errno("write_file", inside_path);
    size_t length = strlen(text);
    if (write(fd, text, length) != (ssize_t)length)
        fail_errno("write_file", inside_path);
    close(fd);
}

/* Flags a user namespace may not clear on remount ("locked"), from statvfs. */
static unsigned long locked_flags(const char *path)
{
    struct statvfs info;
    if (statvfs(path, &info) != 0)
        return 0;
    unsigned long flags = 0;
    if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

static void open_sources(const struct sandbox_config *config)
{
    for (int i = 0; i < config->bind_count; i++) {
        /* A copy's source is read (after the staging root hides /tmp), a bind's only named. */
        int flags = config->ro_binds[i].copy ? O_RDONLY | O_CLOEXEC : O_PATH | O_CLOEXEC;
        bind_source_fds[i] = open(config->ro_binds[i].source, flags);
        if (bind_source_fds[i] < 0)
            fail_errno("open_bind_source", config->ro_binds[i].source);
    }
    for (int i = 0; i < DEVICE_COUNT; i++) {
        char device[32];
        snprintf(device, sizeof device, "/dev/%s", device_names[i]);
        device_fds[i] = open(device, O_PATH | O_CLOEXEC);
        if (device_fds[i] < 0)
            fail_errno("open_device", device);
    }
}

/* Binds an opened source at inside_path; directories and files alike. */
static void bind_at(int source_fd, const char *inside_path, unsigned long extra_flags, bool read_only)
{
    struct stat info;
    if (fstat(source_fd, &info) != 0)
        fail_errno("bind_stat", inside_path);
    make_parent_dirs(inside_path);
    struct staged_path staged_target;
    const char *target = staged(&staged_target, inside_path);
    if (S_ISDIR(info.st_mode)) {
        if (mkdir(target, 0755) != 0 && errno != EEXIST)
            fail_errno("bind_mkdir", inside_path);
    } else if (faccessat(AT_FDCWD, target, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
        /* A file that exists (inside an earlier, read-only bind) is covered as it is. */
        int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            fail_errno("bind_touch", inside_path);
        close(fd);
    }
    struct fd_path source;
    if (mount(fd_path(&source, source_fd), target, NULL, MS_BIND, NULL) != 0)
        fail_errno("bind_mount", inside_path);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | extra_flags | locked_flags(target);
    if (read_only)
        flags |= MS_RDONLY;
    if (mount(NULL, target, NULL, flags, NULL) != 0)
        fail_errno("bind_remount", inside_path);
}

/* Copies the regular file `source` to `name` in the folder `folder`. */
static void copy_file(int source, int folder, const char *name, const char *inside_path)
{
    struct stat info;
    if (fstat(source, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size > COPY_MAX_BYTES)
        fail("copy_source", inside_path); /* not a regular file, or larger than a copy may be */
    int target = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (target < 0)
        fail_errno("copy_create", inside_path);
    for (off_t copied = 0; copied < info.st_size;) {
        ssize_t count = sendfile(target, source, &copied, (size_t)(info.st_size - copied));
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            fail_errno("copy_write", inside_path); /* errno 0: the file shrank */
    }
    close(target);
}

/* Copies the regular files of the folder `source` (not its subfolders) into `folder`. */
static void copy_folder(int source, int folder, const char *inside_path)
{
    char buffer[4096];
    int copied = 0;
    for (;;) {
        ssize_t length = getdents64(source, buffer, sizeof buffer);
        if (length < 0)
            fail_errno("copy_list", inside_path);
        if (length == 0)
            return;
        for (ssize_t offset = 0; offset < length;) {
            const struct dirent64 *entry = (const struct dirent64 *)(buffer + offset);
            offset += entry->d_reclen;
            if (entry->d_type != DT_REG)
                continue;
            if (++copied > COPY_MAX_FILES)
                fail("copy_list", inside_path); /* more files than a copy may hold */
            int file = openat(source, entry->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (file < 0)
                fail_errno("copy_open", entry->d_name);
            copy_file(file, folder, entry->d_name, inside_path);
            close(file);
        }
    }
}

/* A copy of the opened file or folder, in the root tmpfs: at inside_path
 * when that lies in the root tmpfs, else at COPY_FOLDER/NAME, bound
 * read-only over inside_path (a file in a read-only bind). mountinfo then
 * shows no mount, or one whose root is that path of the root tmpfs: the host
 * path the copy came from shows nowhere. */
static void copy_at(int source_fd, const char *inside_path)
{
    struct stat info, root, parent;
    if (fstat(source_fd, &info) != 0)
        fail_errno("copy_source", inside_path);
    make_parent_dirs(inside_path);
    char parent_path[4096];
    snprintf(parent_path, sizeof parent_path, "%s", inside_path);
    char *slash = strrchr(parent_path, '/');
    const char *name = slash[1] != '\0' ? inside_path + (slash - parent_path) + 1 : "copy";
    *(slash == parent_path ? slash + 1 : slash) = '\0';
    struct staged_path staged_parent, staged_root;
    if (stat(staged(&staged_root, "/"), &root) != 0 || stat(staged(&staged_parent, parent_path), &parent) != 0)
        fail_errno("copy_stat", inside_path);
    bool in_root = parent.st_dev == root.st_dev;
    char copy_path[4096];
    snprintf(copy_path, sizeof copy_path, "%s", in_root ? inside_path : COPY_FOLDER "/");
    if (!in_root)
        strncat(copy_path, name, sizeof copy_path - strlen(copy_path) - 1);
    make_parent_dirs(copy_path);
    struct staged_path staged_copy;
    staged(&staged_copy, copy_path);
    if (S_ISDIR(info.st_mode)) {
        if (mkdir(staged_copy.text, 0755) != 0)
            fail_errno("copy_mkdir", copy_path);
        int folder = open(staged_copy.text, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (folder < 0)
            fail_errno("copy_mkdir", copy_path);
        copy_folder(source_fd, folder, inside_path);
        close(folder);
    } else {
        int folder = open(staged(&staged_parent, in_root ? parent_path : COPY_FOLDER), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (folder < 0)
            fail_errno("copy_mkdir", copy_path);
        copy_file(source_fd, folder, name, inside_path);
        close(folder);
    }
    if (in_root)
        return;
    int copy = open(staged_copy.text, O_PATH | O_CLOEXEC);
    if (copy < 0)
        fail_errno("copy_open", copy_path);
    bind_at(copy, inside_path, MS_NODEV | MS_NOEXEC, true);
    close(copy);
}

static void mount_staging_root(void)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        fail_errno("make_private", "mount --make-rprivate /");
    if (mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=512") != 0)
        fail_errno("mount_root_tmpfs", STAGING);
}

static void mount_read_only_binds(const struct sandbox_config *config)
{
    for (int i = 0; i < config->bind_count; i++) {
        if (config->ro_binds[i].copy)
            copy_at(bind_source_fds[i], config->ro_binds[i].inside);
        else
            bind_at(bind_source_fds[i], config->ro_binds[i].inside, MS_NODEV, true);
    }
    for (int i = 0; i < config->symlink_count; i++) {
        struct staged_path link;
        make_parent_dirs(config->symlinks[i].linkpath);
        if (symlink(config->symlinks[i].target, staged(&link, config->symlinks[i].linkpath)) != 0)
            fail_errno("symlink", config->symlinks[i].linkpath);
    }
}

static void populate_dev(void)
{
    make_dirs("/dev");
    for (int i = 0; i < DEVICE_COUNT; i++) {
        char inside[32];
        snprintf(inside, sizeof inside, "/dev/%s", device_names[i]);
        bind_at(device_fds[i], inside, MS_NOEXEC, false);
    }
    static const char *const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        struct staged_path link;
        if (symlink(links[i][0], staged(&link, links[i][1])) != 0)
            fail_errno("symlink", links[i][1]);
    }
}

static void mount_proc(void)
{
    make_dirs("/proc");
    struct staged_path proc;
    staged(&proc, "/proc");
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    /* subset=pid hides /proc/sys, /proc/kcore, cpuinfo and the like (Linux 5.8+). */
    if (mount("proc", proc.text, "proc", flags, "subset=pid,hidepid=invisible") == 0)
        return;
    if (errno != EINVAL)
        fail_errno("mount_proc", "a fresh procfs for the PID namespace");
    if (mount("proc", proc.text, "proc", flags, NULL) != 0)
        fail_errno("mount_proc", "a fresh procfs for the PID namespace");
}

static void populate_etc(const struct sandbox_config *config)
{
    char line[256];
    make_dirs("/etc");
    snprintf(line, sizeof line, "sandbox:x:%u:%u:sandbox:%s:/usr/sbin/nologin\n",
             (unsigned)config->inside_uid, (unsigned)config->inside_gid, config->workdir);
    write_text_file("/etc/passwd", line);
    snprintf(line, sizeof line, "sandbox:x:%u:\n", (unsigned)config->inside_gid);
    write_text_file("/etc/group", line);
    snprintf(line, sizeof line, "127.0.0.1 localhost\n::1 localhost\n127.0.1.1 %s\n", config->hostname);
    write_text_file("/etc/hosts", line);
}

/* The working directory and /dev/shm. With a fork server these are the
 * skeleton's, which only the fork server sees: each run mounts its own over
 * them (fork_run/fork_run.c). */
static void mount_run_tmpfses(const struct sandbox_config *config)
{
    struct run_tmpfs spec = {.uid = config->inside_uid, .gid = config->inside_gid,
                             .bytes = config->workdir_bytes, .inodes = config->workdir_inodes};
    struct staged_path path;
    make_dirs(config->workdir);
    mount_run_tmpfs(staged(&path, config->workdir), &spec, "mount_workdir");
    make_dirs(RUN_SHM_DIR);
    mount_run_tmpfs(staged(&path, RUN_SHM_DIR), &spec, "mount_dev_shm");
}

static void seal_root(void)
{
    if (mount(NULL, STAGING, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        fail_errno("remount_root_readonly", STAGING);
}

static void switch_root(const struct sandbox_config *config)
{
    if (chdir(STAGING) != 0)
        fail_errno("pivot_root", "chdir to the new root");
    /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached. */
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        fail_errno("pivot_root", "pivot_root(., .)");
    if (umount2(".", MNT_DETACH) != 0)
        fail_errno("pivot_root", "detaching the old root");
    if (chdir(config->workdir) != 0)
        fail_errno("chdir_workdir", config->workdir);
}

static void close_sources(const struct sandbox_config *config)
{
    for (int i = 0; i < config->bind_count; i++)
        close(bind_source_fds[i]);
    for (int i = 0; i < DEVICE_COUNT; i++)
        close(device_fds[i]);
}

void build_filesystem(const struct sandbox_config *config)
{
    open_sources(config);
    mount_staging_root();
    mount_read_only_binds(config);
    make_dirs(PACKAGES_MOUNTPOINT);
    populate_dev();
    mount_proc();
    populate_etc(config);
    mount_run_tmpfses(config);
    seal_root();
    close_sources(config);
    switch_root(config);
}
