# expect: ok
# Sends UDP datagrams to the host's listener on 127.0.0.1 and ::1.
# require: BLOCKED: socket(AF_INET, SOCK_DGRAM)
import errno
import json
import socket

host = json.load(open("host.json"))
port = host["udpPort"]


def why(error):
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


for family, family_name, address in ((socket.AF_INET, "AF_INET", ("127.0.0.1", port)),
                                     (socket.AF_INET6, "AF_INET6", ("::1", port))):
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as error:
        print(f"BLOCKED: socket({family_name}, SOCK_DGRAM): {why(error)}")
        continue
    print(f"ESCAPED: socket({family_name}, SOCK_DGRAM) was allowed")
    try:
        for _ in range(3):
            sock.sendto(b"ESCAPED udp\n", address)
        print(f"ESCAPED: sent datagrams to {address[0]}")
    except OSError as error:
        print(f"BLOCKED: sendto {address[0]}: {why(error)}")
    finally:
        sock.close()
