# expect: ok
# Opens netlink sockets (routing, audit, uevents, netfilter) to talk to kernel subsystems directly.
# require: BLOCKED: socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)
import ctypes
import errno
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AF_NETLINK = 16
protocols = {"NETLINK_ROUTE": 0, "NETLINK_SOCK_DIAG": 4, "NETLINK_AUDIT": 9,
             "NETLINK_NETFILTER": 12, "NETLINK_KOBJECT_UEVENT": 15, "NETLINK_GENERIC": 16}

for name, protocol in protocols.items():
    for kind, kind_name in ((3, "SOCK_RAW"), (2, "SOCK_DGRAM")):
        ctypes.set_errno(0)
        fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(AF_NETLINK), ctypes.c_long(kind), ctypes.c_long(protocol))
        err = ctypes.get_errno()
        label = f"socket(AF_NETLINK, {kind_name}, {name})"
        if fd >= 0:
            os.close(fd)
            print(f"ESCAPED: {label} returned descriptor {fd}")
        else:
            print(f"BLOCKED: {label}: {errno.errorcode.get(err, err)}")

try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()
    print("ESCAPED: socket.socket(AF_NETLINK) allowed")
except OSError as error:
    print(f"BLOCKED: socket.socket(AF_NETLINK): {type(error).__name__}")

pair = (ctypes.c_int * 2)()
ctypes.set_errno(0)
result = libc.syscall(ctypes.c_long(53), ctypes.c_long(AF_NETLINK), ctypes.c_long(3), ctypes.c_long(0), pair)
err = ctypes.get_errno()
if result >= 0:
    print("ESCAPED: socketpair(AF_NETLINK) allowed")
else:
    print(f"BLOCKED: socketpair(AF_NETLINK): {errno.errorcode.get(err, err)}")
