# expect: ok
# Connects to the host's unix socket by its filesystem path.
# require: BLOCKED: connect SOCK_STREAM
import errno
import json
import socket

host = json.load(open("host.json"))
path = host["unixSocketPath"]


def why(error):
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


for kind, kind_name in ((socket.SOCK_STREAM, "SOCK_STREAM"), (socket.SOCK_SEQPACKET, "SOCK_SEQPACKET")):
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.settimeout(1)
    try:
        sock.connect(path)
        sock.sendall(b"ESCAPED unix path\n")
        print(f"ESCAPED: connected {kind_name} to the host unix socket")
    except OSError as error:
        print(f"BLOCKED: connect {kind_name}: {why(error)}")
    finally:
        sock.close()

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    sock.sendto(b"ESCAPED unix path\n", path)
    print("ESCAPED: sent a datagram to the host unix socket path")
except OSError as error:
    print(f"BLOCKED: sendto SOCK_DGRAM: {why(error)}")
finally:
    sock.close()
