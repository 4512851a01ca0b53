# expect: ok
# Connects to the host's abstract unix socket, and to well-known abstract sockets (X11), which share the network namespace.
# require: BLOCKED: connect SOCK_STREAM to the host abstract socket
import errno
import json
import socket

host = json.load(open("host.json"))
targets = [("the host abstract socket", "\0" + host["abstractSocketName"]),
           ("abstract X11 display 0", "\0/tmp/.X11-unix/X0")]


def why(error):
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


for label, address in targets:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1)
    try:
        sock.connect(address)
        sock.sendall(b"ESCAPED abstract\n")
        print(f"ESCAPED: connected SOCK_STREAM to {label}")
    except OSError as error:
        print(f"BLOCKED: connect SOCK_STREAM to {label}: {why(error)}")
    finally:
        sock.close()

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    sock.sendto(b"ESCAPED abstract\n", targets[0][1])
    print("ESCAPED: sent a datagram to the host abstract socket")
except OSError as error:
    print(f"BLOCKED: sendto SOCK_DGRAM to the host abstract socket: {why(error)}")
finally:
    sock.close()
