"""The floor no server can go below (ScientificBench.measureWarmFloor): the
program run again and again in one interpreter that has imported the
stack once, with no sandbox, fork or protocol, each time in fresh globals,
its figures closed after. Arguments: the program, the runs measured, the
warm-up runs; prints each measured run's seconds as a JSON list.
"""
import json, os, sys, tempfile, time
import numpy, pandas, matplotlib.pyplot as plt

if __name__ == "__main__":
    os.chdir(tempfile.mkdtemp())
    program, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    times = []
    for index in range(-warmup, runs):
        start = time.perf_counter()
        exec(compile(program, "main.py", "exec"), {"__name__": "__main__"})
        elapsed = time.perf_counter() - start
        plt.close("all")
        if index >= 0:
            times.append(elapsed)
    print(json.dumps(times))
