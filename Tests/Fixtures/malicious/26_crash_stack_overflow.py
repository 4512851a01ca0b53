# expect: killed
# Raises the recursion limit to 10**6 and recurses through C code until the C stack overflows (SIGSEGV).
import sys

sys.setrecursionlimit(10**6)


class Bottomless:
    # getattr() -> __getattr__ -> getattr() ...: every level is a C call that
    # re-enters the interpreter, so each one consumes real C stack.
    def __getattr__(self, name):
        return getattr(self, name)


print("recursing through __getattr__", flush=True)
try:
    Bottomless().anything
except RecursionError:
    print("RecursionError from __getattr__ recursion; trying nested repr", flush=True)

# Fallback: the repr of a deeply nested list also recurses in C.
nested = []
for _ in range(300000):
    nested = [nested]
try:
    repr(nested)
except RecursionError:
    print("RecursionError from nested repr")
print("survived deep recursion (unexpected)")
