"""A fork server's part of the bootstrap (`--isolation fork`; see
sandbox_site.py): between loading and waiting for the program it imports
the `preload` modules and then serves runs, each a fork of itself that
goes on to the run part while the fork server waits for the next
(sandbox/fork_run/). `set-module`: the modules of a package set the operator
preloads (`--preload-packages`); one that fails to import is the run's to
find. Runs in the fork server until a fork returns in a run. A module that
fails to import ends the fork server with its traceback on stderr, the
slot's log, which the service reports.
"""
import os, sys

def warm_up():
    # What every run does first (write a file, compile, execute, print,
    # raise and catch), done once here: the state the interpreter makes
    # lazily on first use (caches, interned names, the compiler's) is then
    # the fork server's, shared by every run instead of built in each one:
    # a run of print(1) costs a third of the CPU time it would otherwise.
    with open(os.devnull, "w", encoding="utf-8") as sink:
        program = "import sys\nprint('warm', 1, 2.5, [None], file=SINK)\ntry:\n    1 / 0\nexcept ZeroDivisionError as error:\n    str(error)\n"
        exec(compile(program, "main.py", "exec"), {"__name__": "__warm_up__", "SINK": sink})

def warm_up_plots():
    # A first figure loads the backend, fonts and the PNG writer: done here,
    # a preloaded matplotlib draws in a run without that cost.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        import io
        pyplot.plot([1, 2])
        pyplot.savefig(io.BytesIO(), format="png")
        _figure_png(pyplot.gcf())
        pyplot.close("all")
        # Its fonts read their files through open descriptors, which a run
        # does not inherit (matplotlib drops them in each fork, and closing
        # them there would fail): closed here, each run opens what it draws with.
        get_font = getattr(sys.modules["matplotlib.font_manager"], "_get_font", None)
        if hasattr(get_font, "cache_clear"):
            get_font.cache_clear()
        import gc
        gc.collect()

def serve_runs(preload, set_modules):
    import ctypes
    library = ctypes.PyDLL("/proc/self/fd/5")
    import binascii, json  # display() needs them; small
    for name in preload:
        __import__(name)
    for name in set_modules:
        try:
            __import__(name)
        except BaseException:
            pass
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        # random reseeds itself in each fork; numpy's global generator does not.
        os.register_at_fork(after_in_child=numpy_random.seed)
    warm_up()
    warm_up_plots()
    # What is loaded now stays out of every run's garbage collections, whose
    # writes to these objects' headers would copy their pages into each run.
    import gc
    gc.freeze()
    if library.pysandbox_fork_server_ready() != 0:
        os._exit(1)
    python = ctypes.pythonapi
    while True:
        received = library.pysandbox_receive_run()
        if received <= 0:
            os._exit(0 if received == 0 else 1)
        python.PyOS_BeforeFork()
        pid = library.pysandbox_fork_run()
        if pid == 0:
            python.PyOS_AfterFork_Child()
            return
        python.PyOS_AfterFork_Parent()


if __name__ == "__main__":
    serve_runs(SETTINGS["preload"], SETTINGS["set-module"])
    del serve_runs, warm_up, warm_up_plots
