/*
 * A package layer mounted into a running run, for `pip install` inside it.
 * The service names the layer's directory on the run's stop socket ('p',
 * a two-byte length in host order, the path); the slot mounts it
 * read-only, nosuid and nodev over PACKAGES_MOUNTPOINT in that run's mount
 * namespace only, on top of what was there, and answers on the same
 * socket: "ok\n", or "error STEP ERRNO\n".
 *
 * The run's mount namespace belongs to the skeleton's user namespace; the
 * layer is on the host. A child of the slot joins that user namespace
 * (the slot, its owner, holds every capability there), copies the host's
 * mount namespace into one of its own, where the layer's path resolves,
 * clones the layer's directory as a detached mount (open_tree), makes it
 * read-only and private, then joins the run's mount namespace and attaches
 * it (move_mount). The same steps serve root and an ordinary user; the
 * slot itself never changes namespace.
 */
#include "fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct layer_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

/* What failed in the child, for the answer. */
struct mount_failure {
    char step[24];
    int error_number;
};

static void child_fail(int report_fd, const char *step)
{
    struct mount_failure failure = {.error_number = errno};
    snprintf(failure.step, sizeof failure.step, "%s", step);
    ssize_t ignored = write(report_fd, &failure, sizeof failure);
    (void)ignored;
    _exit(1);
}

/* In a child of the slot: every step, one failure reported. */
static void mount_in_child(int run_pid_fd, const char *layer, int report_fd)
{
    if (setns(run_pid_fd, CLONE_NEWUSER) != 0)
        child_fail(report_fd, "join_user_namespace");
    if (unshare(CLONE_NEWNS) != 0)
        child_fail(report_fd, "copy_mount_namespace");
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        child_fail(report_fd, "open_tree");
    struct layer_mount_attr attr = {
        .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, .propagation = MS_PRIVATE};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
        child_fail(report_fd, "mount_setattr");
    if (setns(run_pid_fd, CLONE_NEWNS) != 0)
        child_fail(report_fd, "join_run_mounts");
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, PACKAGES_MOUNTPOINT, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        child_fail(report_fd, "move_mount");
    _exit(0);
}

static void answer(const struct run *run, const char *text)
{
    ssize_t ignored = send(run->stop_fd, text, strlen(text), MSG_NOSIGNAL);
    (void)ignored;
}

static void answer_failure(const struct run *run, const char *step, int error_number)
{
    char text[96];
    snprintf(text, sizeof text, "error %s %d\n", step, error_number);
    answer(run, text);
}

/* Mounts `layer` into the run; the answer goes to the service. */
static void mount_layer(const struct run *run, const char *layer)
{
    if (run->pid_fd < 0) {
        answer_failure(run, "run_not_started", ESRCH);
        return;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        answer_failure(run, "pipe", errno);
        return;
    }
    pid_t child = fork();
    if (child < 0) {
        answer_failure(run, "fork", errno);
        close(report[0]);
        close(report[1]);
        return;
    }
    if (child == 0) {
        close(report[0]);
        mount_in_child(run->pid_fd, layer, report[1]);
    }
    close(report[1]);
    struct mount_failure failure = {{0}, 0};
    ssize_t count;
    do {
        count = read(report[0], &failure, sizeof failure);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (count == (ssize_t)sizeof failure) {
        failure.step[sizeof failure.step - 1] = '\0';
        answer_failure(run, failure.step, failure.error_number);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        answer_failure(run, "mount_child", 0);
    } else {
        answer(run, "ok\n");
    }
}

/* After a 'p' on the stop socket: the rest of the word (sent whole by the service), then the mount. */
void read_layer_mount_word(struct run *run)
{
    uint16_t length = 0;
    char layer[4096];
    if (recv(run->stop_fd, &length, sizeof length, MSG_WAITALL) != (ssize_t)sizeof length || length == 0 ||
        length >= sizeof layer || recv(run->stop_fd, layer, length, MSG_WAITALL) != (ssize_t)length) {
        answer_failure(run, "layer_word", EINVAL);
        return;
    }
    layer[length] = '\0';
    if (layer[0] != '/' || memchr(layer, '\0', length) != NULL) {
        answer_failure(run, "layer_path", EINVAL);
        return;
    }
    mount_layer(run, layer);
}

/* A one-off run's stop socket: 'p' mounts a layer; any other byte, or its end, stops the run. */
bool next_run_word(struct run *run, struct run_actions *actions)
{
    for (;;) {
        char word;
        ssize_t count = recv(run->stop_fd, &word, 1, MSG_DONTWAIT);
        if (count < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        if (count == 1 && word == LAYER_MOUNT_WORD) {
            read_layer_mount_word(run);
            continue;
        }
        *actions = (struct run_actions){.stop = STOPPED_BY_SERVICE};
        return true;
    }
}
