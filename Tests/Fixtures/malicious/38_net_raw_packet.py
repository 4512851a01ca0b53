# expect: ok
# Opens raw IP and packet sockets through the raw socket syscall, including a domain with high bits set to confuse the filter.
# require: BLOCKED: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
# require: BLOCKED: socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)
import ctypes
import errno
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_socket = 41
ETH_P_ALL_BE = socket.htons(0x0003)

attempts = [
    ("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", 2, 3, 1),
    ("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)", 2, 3, 255),
    ("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) ping socket", 2, 2, 1),
    ("socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)", 10, 3, 58),
    ("socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)", 17, 3, ETH_P_ALL_BE),
    ("socket(AF_PACKET, SOCK_DGRAM, ETH_P_ALL)", 17, 2, ETH_P_ALL_BE),
    ("socket(1<<32 | AF_INET, SOCK_RAW, IPPROTO_ICMP)", (1 << 32) | 2, 3, 1),
    ("socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)", 2, 3 | 0o2000000, 1),
]
for label, domain, kind, protocol in attempts:
    ctypes.set_errno(0)
    fd = libc.syscall(ctypes.c_long(SYS_socket), ctypes.c_long(domain), ctypes.c_long(kind), ctypes.c_long(protocol))
    err = ctypes.get_errno()
    if fd >= 0:
        os.close(fd)
        print(f"ESCAPED: {label} returned descriptor {fd}")
    else:
        print(f"BLOCKED: {label}: {errno.errorcode.get(err, err)}")

for label, family, kind, protocol in (("socket.socket(AF_PACKET, SOCK_RAW)", socket.AF_PACKET, socket.SOCK_RAW, 0x0003),
                                      ("socket.socket(AF_INET, SOCK_RAW)", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)):
    try:
        socket.socket(family, kind, protocol).close()
        print(f"ESCAPED: {label} allowed")
    except OSError as error:
        print(f"BLOCKED: {label}: {type(error).__name__}")
