# expect: timeout
# timeout-ms: 1000
# A plain infinite busy loop tries to hold the CPU forever.
print("spinning forever", flush=True)
counter = 0
while True:
    counter += 1
