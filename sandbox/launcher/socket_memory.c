/*
 * Data queued in the run's sockets, for the census of a run without a cgroup
 * (a cgroup charges it to the run; nothing else does): a sock_diag dump of
 * every unix socket in the run's network namespace, which are all the run's.
 *
 * A netlink socket answers for the namespace it was made in, and only init is
 * there: init makes it first thing and passes it to the supervisor over a
 * socketpair.
 */
#include "launcher.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void send_socket_memory_probe(int channel)
{
    int probe = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (probe < 0)
        fail_errno("sock_diag", "a NETLINK_SOCK_DIAG socket counts the run's socket buffers (CONFIG_UNIX_DIAG)");
    if (send_with_fds(channel, "p", 1, &probe, 1) != 0)
        fail_errno("sock_diag_pass", "passing the socket-buffer probe to the supervisor");
    close(probe);
    close(channel);
}

int receive_socket_memory_probe(int channel)
{
    char byte;
    int probe = -1, count = 0;
    ssize_t length = receive_with_fds(channel, &byte, 1, &probe, 1, &count);
    close(channel);
    return length == 1 && count == 1 ? probe : -1; /* else init failed first; it has reported why */
}

/* The memory of one socket's queues, from its UNIX_DIAG_MEMINFO attribute. */
static uint64_t socket_bytes(const struct nlmsghdr *reply)
{
    const struct unix_diag_msg *socket_info = NLMSG_DATA(reply);
    int remaining = (int)reply->nlmsg_len - NLMSG_LENGTH(sizeof *socket_info);
    uint64_t total = 0;
    for (const struct rtattr *attribute = (const struct rtattr *)(socket_info + 1); RTA_OK(attribute, remaining);
         attribute = RTA_NEXT(attribute, remaining)) {
        if (attribute->rta_type != UNIX_DIAG_MEMINFO || RTA_PAYLOAD(attribute) < SK_MEMINFO_VARS * sizeof(uint32_t))
            continue;
        const uint32_t *memory = RTA_DATA(attribute);
        /* Queued data is charged to the sending socket; the receive side is added in case a kernel charges there. */
        total += (uint64_t)memory[SK_MEMINFO_WMEM_ALLOC] + memory[SK_MEMINFO_RMEM_ALLOC];
    }
    return total;
}

uint64_t run_socket_bytes(int probe)
{
    struct {
        struct nlmsghdr header;
        struct unix_diag_req request;
    } dump = {
        .header = {.nlmsg_len = sizeof dump, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .request = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_MEMINFO},
    };
    if (probe < 0 || send(probe, &dump, sizeof dump, 0) != (ssize_t)sizeof dump)
        return 0;
    static char replies[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
    uint64_t total = 0;
    for (;;) {
        ssize_t length = recv(probe, replies, sizeof replies, 0);
        if (length < 0 && errno == EINTR)
            continue;
        if (length <= 0)
            return total;
        for (struct nlmsghdr *reply = (struct nlmsghdr *)replies; NLMSG_OK(reply, (unsigned int)length);
             reply = NLMSG_NEXT(reply, length)) {
            if (reply->nlmsg_type == NLMSG_DONE || reply->nlmsg_type == NLMSG_ERROR)
                return total;
            if (reply->nlmsg_type == SOCK_DIAG_BY_FAMILY)
                total += socket_bytes(reply);
        }
    }
}
