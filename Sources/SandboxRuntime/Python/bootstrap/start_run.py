"""The bootstrap's last part (see sandbox_site.py): once the interpreter
is loaded, the sandbox is ready (one NUL byte on stdout); the run's
request, or a session's, is read from fd 3 and run.
"""
import os

if __name__ == "__main__":
    request = read_request()
    if request is None:
        serve_session()
    source, files, returns, _ = request
    workdir = os.getcwd()
    place_files(files)
    write_file("main.py", source)
    code = source.decode("utf-8")
    del read_request, place_files, write_file, files, source
    try:
        run(code)
        status = 0
    except SystemExit as exit:
        status = exit_status(exit.code)
    finish(status, workdir, returns)
