# expect: ok
# Resolves public host names through DNS, which would need the network.
# require: BLOCKED: getaddrinfo example.com
import socket

for name in ("example.com", "pypi.org"):
    try:
        results = socket.getaddrinfo(name, 80)
        print(f"ESCAPED: getaddrinfo {name} resolved to {len(results)} addresses")
    except Exception as error:
        print(f"BLOCKED: getaddrinfo {name}: {type(error).__name__}")
try:
    address = socket.gethostbyname("example.com")
    print("ESCAPED: gethostbyname example.com resolved")
except Exception as error:
    print(f"BLOCKED: gethostbyname example.com: {type(error).__name__}")
