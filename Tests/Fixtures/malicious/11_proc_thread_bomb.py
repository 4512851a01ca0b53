# expect: ok|error
# A thread bomb starts threads until the task limit refuses more.
import threading

LIMIT = 10000
threading.stack_size(256 * 1024)  # small stacks, so the task limit trips before the address space
stop = threading.Event()
started = 0
try:
    for _ in range(LIMIT):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except (RuntimeError, MemoryError, OSError) as error:
    print(f"BLOCKED: thread creation refused after {started} threads ({type(error).__name__}: {error})")
finally:
    stop.set()
if started >= LIMIT:
    print(f"ESCAPED: started {LIMIT} threads without reaching a task limit")
