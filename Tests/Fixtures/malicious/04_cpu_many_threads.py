# expect: timeout
# timeout-ms: 1000
# Many threads each burn CPU (hashing releases the GIL) to occupy several cores at once.
import hashlib
import threading

data = b"x" * (1 << 20)


def burn_hash():
    while True:
        hashlib.sha256(data).digest()


def burn_python():
    counter = 0
    while True:
        counter += 1


threads = [threading.Thread(target=burn_hash, daemon=True) for _ in range(14)]
threads += [threading.Thread(target=burn_python, daemon=True) for _ in range(2)]
for thread in threads:
    thread.start()
print(f"{len(threads)} burner threads started", flush=True)
for thread in threads:
    thread.join()
