# expect: ok
# Reads the host name, which must be the sandbox's own, and tries to change it.
# require: hostname=sandbox
# require: BLOCKED: sethostname
import ctypes
import errno
import os
import socket

name = os.uname().nodename
print(f"hostname={name}")
if name != "sandbox" or socket.gethostname() != "sandbox":
    print("ESCAPED: the host's name is visible")
with open("/etc/hosts") as file:
    hosts = file.read()
if "sandbox" not in hosts:
    print("note: /etc/hosts does not name the sandbox")

libc = ctypes.CDLL(None, use_errno=True)
ctypes.set_errno(0)
if libc.sethostname(b"pwned", 5) == 0:
    print("ESCAPED: sethostname succeeded")
else:
    print(f"BLOCKED: sethostname: {errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())}")
