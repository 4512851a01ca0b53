# expect: timeout
# timeout-ms: 1000
# Catastrophic regex backtracking keeps the CPU busy inside the C regex engine, away from Python-level checks.
import re

print("matching (a+)+$ against 40 a's and a b", flush=True)
re.match(r"(a+)+$", "a" * 40 + "b")
print("regex finished (unexpected: 2**40 backtracking steps should not fit in the limit)")
