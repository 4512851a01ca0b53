# expect: ok
# Connects over TCP to the host's listener on 127.0.0.1 (and ::1, and via localhost).
# require: BLOCKED: socket(AF_INET, SOCK_STREAM)
import errno
import json
import socket

host = json.load(open("host.json"))
port = host["tcpPort"]


def why(error):
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


for family, family_name, address in ((socket.AF_INET, "AF_INET", ("127.0.0.1", port)),
                                     (socket.AF_INET6, "AF_INET6", ("::1", port)),
                                     (socket.AF_INET6, "AF_INET6", ("::ffff:127.0.0.1", port))):
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        print(f"BLOCKED: socket({family_name}, SOCK_STREAM): {why(error)}")
        continue
    print(f"ESCAPED: socket({family_name}, SOCK_STREAM) was allowed")
    try:
        sock.settimeout(1)
        sock.connect(address)
        sock.sendall(b"ESCAPED tcp\n")
        print(f"ESCAPED: connected to the host TCP listener at {address[0]}")
    except OSError as error:
        print(f"BLOCKED: connect {address[0]}: {why(error)}")
    finally:
        sock.close()

try:
    connection = socket.create_connection(("localhost", port), timeout=1)
    connection.sendall(b"ESCAPED tcp\n")
    connection.close()
    print("ESCAPED: create_connection to localhost")
except OSError as error:
    print(f"BLOCKED: create_connection to localhost: {why(error)}")
