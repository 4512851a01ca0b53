# expect: ok
# Tries a spread of privileged syscalls: open_by_handle_at (the Shocker escape), reboot, kexec, swap, syslog, clocks, credentials, device nodes, port I/O and seccomp itself.
# require: BLOCKED: open_by_handle_at
# require: BLOCKED: setuid(0)
# require: BLOCKED: reboot
import ctypes
import errno
import os

from attempt import attempt, libc

import struct
import time

# Arguments are chosen to be harmless even if a call were let through.
root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
handle = ctypes.create_string_buffer(struct.pack("<Ii", 8, 1) + struct.pack("<Q", 2), 16)  # ext4 root inode
attempt("open_by_handle_at", 304, root_fd, handle, os.O_RDONLY)
mount_id = ctypes.c_int(0)
attempt("name_to_handle_at", 303, -100, b"/usr", ctypes.create_string_buffer(136), ctypes.byref(mount_id), 0)
os.close(root_fd)

attempt("reboot", 169, 0xFEE1DEAD, 672274793, 0xDEADBEEF, None)  # invalid command
attempt("kexec_load", 246, 0, 0, None, 0xFFFF0000)  # invalid flags
attempt("kexec_file_load", 320, -1, -1, 0, None, 0)
attempt("swapon", 167, b"/tmp/nonexistent-swap", 0)
attempt("acct", 163, b"/nonexistent-acct")
attempt("syslog(SYSLOG_ACTION_READ_ALL)", 103, 3, ctypes.create_string_buffer(4096), 4096)
now = ctypes.create_string_buffer(struct.pack("<qq", int(time.time()), 0))
attempt("clock_settime(CLOCK_REALTIME, now)", 227, 0, now)
attempt("sethostname", 170, b"pwned", 5)
attempt("setuid(0)", 105, 0)
attempt("setgid(0)", 106, 0)
attempt("setresuid(0, 0, 0)", 117, 0, 0, 0)
attempt("setgroups([0])", 116, 1, ctypes.byref(ctypes.c_uint(0)))
capability_header = ctypes.create_string_buffer(struct.pack("<Ii", 0x20080522, 0))
attempt("capset(all)", 126, capability_header, ctypes.create_string_buffer(b"\xff" * 24))
attempt("mknod(/dev/null clone)", 133, b"devnode", 0o20666, (1 << 8) | 3)
attempt("chown(host.json, 0, 0)", 92, b"host.json", 0, 0)
attempt("iopl(3)", 172, 3)
attempt("ioperm(0x80)", 173, 0x80, 1, 1)
attempt("modify_ldt(read)", 154, 0, ctypes.create_string_buffer(16), 16)
attempt("personality(ADDR_NO_RANDOMIZE)", 135, 0x0040000)
attempt("seccomp(SECCOMP_GET_ACTION_AVAIL)", 317, 2, 0, ctypes.byref(ctypes.c_uint32(0x7FFF0000)))
attempt("kcmp(self, 1)", 312, os.getpid(), 1, 0, 0, 0)
attempt("fanotify_init", 300, 0, 0)
attempt("inotify_init1", 294, 0)
attempt("quotactl(Q_SYNC)", 179, 0x80000100, None, 0, None)  # QCMD(Q_SYNC, USRQUOTA)
attempt("adjtimex(read)", 159, ctypes.create_string_buffer(256))
attempt("process_madvise", 440, 0, None, 0, 0, 0)
attempt("set_mempolicy", 238, 0, None, 0)
