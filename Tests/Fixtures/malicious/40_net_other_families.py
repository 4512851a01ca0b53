# expect: ok
# Tries every other socket family with exploit history (vsock, AF_ALG, packet, XDP, TIPC, RDS, CAN, Bluetooth ...) in every socket type.
# require: BLOCKED: AF_VSOCK
# require: BLOCKED: AF_ALG
# require: ok: AF_UNIX socketpair works
import ctypes
import errno
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
families = {"AF_INET": 2, "AF_INET6": 10, "AF_AX25": 3, "AF_IPX": 4, "AF_APPLETALK": 5, "AF_X25": 9,
            "AF_KEY": 15, "AF_PACKET": 17, "AF_RDS": 21, "AF_LLC": 26, "AF_CAN": 29, "AF_TIPC": 30,
            "AF_BLUETOOTH": 31, "AF_ALG": 38, "AF_NFC": 39, "AF_VSOCK": 40, "AF_KCM": 41,
            "AF_QIPCRTR": 42, "AF_SMC": 43, "AF_XDP": 44, "AF_MCTP": 45}
kinds = {"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_SEQPACKET": 5}

for family_name, family in families.items():
    opened = []
    errors = set()
    for kind_name, kind in kinds.items():
        ctypes.set_errno(0)
        fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(family), ctypes.c_long(kind), ctypes.c_long(0))
        err = ctypes.get_errno()
        if fd >= 0:
            os.close(fd)
            opened.append(kind_name)
        else:
            errors.add(errno.errorcode.get(err, str(err)))
    if opened:
        print(f"ESCAPED: {family_name} sockets opened: {', '.join(opened)}")
    else:
        print(f"BLOCKED: {family_name}: {', '.join(sorted(errors))}")

for family_name in ("AF_INET", "AF_INET6"):
    try:
        socket.socketpair(getattr(socket, family_name)).close()
        print(f"ESCAPED: socketpair({family_name}) allowed")
    except OSError as error:
        print(f"BLOCKED: socketpair({family_name}): {type(error).__name__}")

left, right = socket.socketpair(socket.AF_UNIX)
left.sendall(b"ping")
if right.recv(4) == b"ping":
    print("ok: AF_UNIX socketpair works (control)")
left.close()
right.close()
