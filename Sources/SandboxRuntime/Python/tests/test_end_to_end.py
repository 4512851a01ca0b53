"""The whole bootstrap, as the sandbox starts it but without the sandbox: the
interpreter with the sandbox's flags in a temporary working directory, the
request on fd 3 (a pipe for a run, a unix socket for a session), and what
it writes on stdout read back as StdoutFrames.swift reads it."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

import bootstrap_parts

FLAGS = ["-I", "-S", "-u", "-B", "-X", "utf8", "-c"]  # LauncherCommand's
SETTINGS = bootstrap_parts.settings_arguments(package_layer=["/opt/pysandbox/shims", "/opt/pysandbox/packages"])


class ProgramTests(unittest.TestCase):
    def test_the_swift_assembly_is_the_parts_in_order(self):
        if "PYSANDBOX_BOOTSTRAP" not in os.environ:
            self.skipTest("PYSANDBOX_BOOTSTRAP names no program assembled by Bootstrap.swift")
        self.assertEqual(bootstrap_parts.program(), bootstrap_parts.assemble())

    def test_each_part_compiles_alone_and_joined(self):
        for name in bootstrap_parts.ALL_PARTS:
            compile(bootstrap_parts.source(name), name, "exec")
        compile(bootstrap_parts.assemble(fork_server=True), "<fork server>", "exec")


def start(workdir, channel_fd, stdin=subprocess.DEVNULL, arguments=SETTINGS, session=False):
    return subprocess.Popen(
        [sys.executable] + FLAGS + [bootstrap_parts.program()] + arguments, cwd=workdir, stdin=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=False,
        preexec_fn=lambda: on_fd_3(channel_fd, session), env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir})


def on_fd_3(fd, session):
    if session:
        # As fork_run.c starts a session's interpreter: pid 1's word for a cell, and interrupts, blocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGURG, signal.SIGINT})
    if fd == 3:
        os.set_inheritable(3, True)  # dup2 of a descriptor onto itself would leave it close-on-exec
    else:
        os.dup2(fd, 3)


class RunTests(unittest.TestCase):
    def run_program(self, code, files=None, stdin=b"", arguments=SETTINGS, **options):
        with tempfile.TemporaryDirectory() as workdir:
            read, write = os.pipe()
            os.write(write, bootstrap_parts.request(code, files, **options))
            os.close(write)
            try:
                process = start(workdir, read, stdin=subprocess.PIPE, arguments=arguments)
            finally:
                os.close(read)
            stdout, stderr = process.communicate(stdin, timeout=60)
            with open(os.path.join(workdir, "main.py"), encoding="utf-8") as main:
                self.assertEqual(main.read(), code)
        self.assertTrue(stdout.startswith(b"\0"), "the sandbox says it is ready first")
        return process.returncode, bootstrap_parts.frames(stdout[1:]), stderr

    def test_streams_in_the_order_written(self):
        status, pieces, stderr = self.run_program("import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')")
        self.assertEqual((status, stderr), (0, b""))
        # print writes its text and its end apart: a frame each.
        self.assertEqual(pieces, [("text", b"a\n"), ("stderr", b"b"), ("stderr", b"\n"), ("text", b"c\n")])

    def test_the_program_sees_itself_as_main_py(self):
        code = "import sys, os\nprint(sys.argv, __name__, __file__, sys.path[0] == os.getcwd(), open('d/x.txt').read())"
        status, pieces, _ = self.run_program(code, {"d/x.txt": b"placed"})
        self.assertEqual(status, 0)
        self.assertEqual(pieces, [("text", b"['main.py'] __main__ main.py True placed\n")])

    def test_a_traceback_shows_only_the_programs_frames(self):
        status, pieces, _ = self.run_program("x = 1\n1 / 0\n")
        self.assertEqual(status, 1)
        error = b"".join(payload for kind, payload in pieces if kind == "stderr").decode()
        self.assertTrue(error.startswith("Traceback (most recent call last):\n  File \"main.py\", line 2"), error)
        self.assertTrue(error.endswith("ZeroDivisionError: division by zero\n"), error)
        self.assertNotIn("bootstrap", error)

    def test_a_missing_module_gets_its_hint(self):
        status, pieces, _ = self.run_program("import sklearn")
        error = b"".join(payload for kind, payload in pieces if kind == "stderr").decode()
        self.assertEqual(status, 1)
        self.assertIn("--package scikit-learn", error)

    def test_exit_statuses_atexit_and_threads(self):
        code = ("import atexit, threading, time\natexit.register(print, 'atexit')\n"
                "threading.Thread(target=lambda: (time.sleep(0.1), print('thread'))).start()\nexit(3)")
        status, pieces, _ = self.run_program(code)
        self.assertEqual(status, 3)
        self.assertEqual(pieces, [("text", b"thread\natexit\n")])

    def test_stdin_and_display_and_returned_files(self):
        code = ("name = input()\ndisplay({'text/html': '<b>' + name + '</b>'}, raw=True)\n"
                "open('out.csv', 'w').write(name)\n")
        status, pieces, _ = self.run_program(code, stdin=b"ada\n", return_files=["*.csv", "*.txt"])
        self.assertEqual(status, 0)
        kinds = [kind for kind, _ in pieces]
        self.assertEqual(kinds, ["display", "files"])
        self.assertEqual(json.loads(pieces[0][1])["data"]["text/html"], "<b>ada</b>")
        self.assertEqual(json.loads(pieces[1][1]), {
            "files": [{"path": "out.csv", "base64": "YWRh"}], "omitted": [{"path": "*.txt", "reason": "noMatch"}]})

    def test_the_builtins_site_gives_and_the_settings_paths(self):
        with tempfile.TemporaryDirectory() as layer:
            arguments = bootstrap_parts.settings_arguments(
                package_layer=[layer, "/nonexistent/layer"], site_packages=["/usr/lib/python3/dist-packages"])
            code = "import sys\nprint(callable(exit), callable(help), callable(display), sys.path[-2:], sys.argv)"
            status, pieces, _ = self.run_program(code, arguments=arguments)
        # A layer that is not there (no package set mounted) is left out.
        expected = "True True True %r ['main.py']\n" % [layer, "/usr/lib/python3/dist-packages"]
        self.assertEqual((status, pieces), (0, [("text", expected.encode())]))

    def test_the_network_is_said_to_be_absent(self):
        code = ("import socket\ntry:\n    socket.getaddrinfo('invalid.invalid', 80)\nexcept OSError as error:\n"
                "    print('no network' in str(error))\n")
        status, pieces, _ = self.run_program(code)
        self.assertEqual((status, pieces), (0, [("text", b"True\n")]))


class SessionTests(unittest.TestCase):
    def start_session(self, workdir):
        service, sandbox = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = start(workdir, sandbox.fileno(), session=True)
        finally:
            sandbox.close()
        self.assertEqual(process.stdout.read(1), b"\0")
        # A session that ends at a failed cell (rolling back needs the sandbox's pid 1).
        service.sendall(b"session\nend\n")
        return service, process

    @staticmethod
    def send_cell(service, process, code):
        # Each cell: its length line, with its stdin, pip's answers and its request on pipes of their own.
        request = bootstrap_parts.request(code)
        stdin_read, stdin_write = os.pipe()
        answers_read, answers_write = os.pipe()
        body_read, body_write = os.pipe()
        os.close(stdin_write)
        os.write(body_write, request)
        os.close(body_write)
        socket.send_fds(service, [b"%d\n" % len(request)], [stdin_read, answers_read, body_read])
        bootstrap_parts.resume_cell(process.pid)
        for fd in (stdin_read, answers_read, answers_write, body_read):
            os.close(fd)

    def end_session(self, service, process):
        service.close()
        process.stdout.close()
        process.wait(timeout=60)
        stderr = process.stderr.read()
        process.stderr.close()
        self.assertEqual(process.returncode, 0, stderr)

    def test_cells_share_one_main_and_end_with_end_frames(self):
        with tempfile.TemporaryDirectory() as workdir:
            service, process = self.start_session(workdir)
            outputs = []
            for code in ("x = 41\nimport sys\nprint(sys.argv)", "x + 1", "1 / 0"):
                self.send_cell(service, process, code)
                outputs.append(read_cell(process.stdout))
            self.end_session(service, process)
        self.assertEqual(outputs[0], [("text", b"['']\n"), ("end", b"0")])
        (kind, payload), end = outputs[1]
        self.assertEqual((kind, json.loads(payload)["data"]["text/plain"], end), ("display", "42", ("end", b"0")))
        self.assertEqual(outputs[2][-1], ("end", b"1"))
        error = b"".join(payload for kind, payload in outputs[2] if kind == "stderr").decode()
        self.assertIn('File "<cell 3>", line 1', error)
        self.assertIn("ZeroDivisionError", error)

    def test_an_interrupt_between_cells_reaches_no_cell(self):
        # Late (the cell it was meant for has ended): dropped, even with a
        # handler a cell left; in a cell, that handler takes it.
        with tempfile.TemporaryDirectory() as workdir:
            service, process = self.start_session(workdir)
            self.send_cell(service, process, "import signal, time\nprevious = signal.signal(signal.SIGINT, lambda *_: print('handled'))")
            self.assertEqual(read_cell(process.stdout), [("end", b"0")])
            os.kill(process.pid, signal.SIGINT)
            self.send_cell(service, process, "time.sleep(0.2)\nprint('second')")
            self.assertEqual(read_cell(process.stdout), [("text", b"second\n"), ("end", b"0")])
            self.send_cell(service, process, "print('waiting', flush=True)\ntime.sleep(0.5)")
            seen = b""
            while not seen.endswith(b"\n"):
                seen += os.read(process.stdout.fileno(), 1)
            self.assertEqual(seen, b"waiting\n")
            os.kill(process.pid, signal.SIGINT)
            self.assertEqual(read_cell(process.stdout), [("text", b"handled\n"), ("end", b"0")])
            self.end_session(service, process)


def read_cell(stdout):
    """stdout up to the cell's end frame."""
    data = b""
    while True:
        pieces = bootstrap_parts.frames(data)
        if pieces and pieces[-1][0] == "end" and data.endswith(pieces[-1][1]) and len(pieces[-1][1]) == 1:
            return pieces
        chunk = os.read(stdout.fileno(), 1 << 16)
        if not chunk:
            return pieces
        data += chunk


if __name__ == "__main__":
    unittest.main()
