#!/usr/bin/python3
"""Drives the web editor's "Keep variables" toggle (protocol sessions) in headless Chromium.

    python3 session_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor-session.png
    python3 session_test.py --url ... --screenshot ... --session-idle-timeout-ms 2000

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check. By default: the toggle is a labelled switch that the keyboard turns
on; with it on, a name set by one run is there in the next, and a
traceback links the run's own cell to the editor (not earlier cells); Restart
forgets it (NameError); Stop interrupts a busy loop with KeyboardInterrupt
and the session keeps its names; a dropped connection (cut by a TCP relay
the page is loaded through) ends the session, the page says so, reconnects,
and its next run has a new session, while the server has ended the old
one (its /metrics); turned off, runs are fresh again.
--session-idle-timeout-ms MS (the server's --session-idle-timeout-ms):
only that a session that ends by itself is announced, with why, and that
the next run starts a new one. --expect-no-sessions (a server with
--isolation exec): only that the toggle is hidden and runs are fresh.
"""

import argparse
import os
import re
import socket
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import EditorTest, Keys, expect, main  # noqa: E402  (re-execs with Debian's python3)


class Relay:
    """A TCP relay in front of the server, so that a check can drop the
    page's connections as a network or a proxy would; the server sees the
    same bytes, and its Origin check the relay's address as Host."""

    def __init__(self, target_port):
        self.target = ('127.0.0.1', target_port)
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.relayed = []   # both ends of every relayed connection
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.relayed += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            source.close()

    def cut(self):
        """Ends every connection open through the relay, both ways, at once;
        new ones are relayed as before. Returns how many were cut."""
        with self.lock:
            cut, self.relayed = self.relayed, []
        for end in cut:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(cut) // 2


class SessionTest(EditorTest):
    session_idle_timeout_ms = None   # set from the command line below
    no_sessions = False

    def __init__(self, driver, url, *rest):
        super().__init__(driver, url, *rest)
        self.server_url = url
        if self.session_idle_timeout_ms is None and not self.no_sessions:
            # The page is loaded through the relay, so its connection can be cut.
            self.relay = Relay(int(re.match(r'https?://[^/:]+:(\d+)', url).group(1)))
            self.url = f'http://127.0.0.1:{self.relay.port}/'

    # ------------------------------------------------------------ helpers

    def session_line(self):
        """The session line's state, ended reason and words, at one instant."""
        return self.js("""
            const line = document.querySelector('[data-testid="session-line"]');
            return {state: line.dataset.state, reason: line.dataset.reason || null,
                    text: line.textContent, hidden: line.hidden};
        """)

    def wait_line(self, state, timeout=15):
        return self.wait(lambda: (lambda s: s if s['state'] == state else None)(self.session_line()),
                         f'the session line to be {state!r} (it is {self.session_line()})', timeout=timeout)

    def turn_on_with_keyboard(self):
        # Shown once the server's initialize result says it has sessions.
        self.wait(lambda: self.js('return !document.getElementById("session-controls").hidden'),
                  'the Keep variables toggle to be shown')
        toggle = self.find('keep-variables')
        expect(not toggle.get_attribute('checked'), 'Keep variables is on before it was turned on')
        self.js('arguments[0].focus()', toggle)
        self.keys().send_keys(Keys.SPACE).perform()
        self.wait(lambda: self.js('return arguments[0].checked', toggle), 'Space to turn Keep variables on')
        self.wait_line('ready')

    def run_expecting(self, source, verdict, output=None, contains=None):
        snap = self.run_and_wait(source)
        expect(snap['verdict'] == verdict, f'{source!r} gave verdict {snap["verdict"]!r}, expected {verdict!r}; {snap}')
        if output is not None:
            expect(snap['output'] == output, f'{source!r} printed {snap["output"]!r}, expected {output!r}')
        if contains is not None:
            expect(contains in snap['output'], f'{source!r} printed {snap["output"]!r}, without {contains!r}')
        return snap

    # ------------------------------------------------------------- checks

    def check_toggle(self):
        self.wait(lambda: self.js('return !document.getElementById("session-controls").hidden'),
                  'the Keep variables toggle to be shown')
        expect(self.find('keep-variables').get_attribute('role') == 'switch', 'the toggle is not role=switch')
        label = self.js("""
            const input = document.querySelector('[data-testid="keep-variables"]');
            return input.labels.length ? input.labels[0].textContent.replace(/\\s+/g, ' ').trim() : null;
        """)
        expect(label == 'Keep variables', f'the toggle is labelled {label!r}')
        expect(self.find('keep-variables').is_enabled(), 'the toggle is disabled on a server with sessions')
        expect(not self.find('restart').is_enabled(), 'Restart is enabled with no session open')
        self.turn_on_with_keyboard()
        return 'a switch labelled "Keep variables", turned on with Space; Restart disabled with no session'

    def check_names_persist(self):
        self.run_expecting('x = 41', 'ok', output='')
        line = self.wait_line('open')
        expect('kept between runs' in line['text'], f'the session line says {line["text"]!r}')
        expect(self.find('restart').is_enabled(), 'Restart is disabled while a session is open')
        self.run_expecting('print(x + 1)', 'ok', output='42\n')
        return f'x = 41, then print(x + 1) printed 42; session line: "{line["text"]}"'

    def check_cell_traceback(self):
        self.run_expecting("def fails():\n    depth = 1\n    raise ValueError('deep')", 'ok', output='')
        done = self.run_expecting('y = 1\nfails()', 'error', contains='ValueError: deep')
        links = self.js("""
            return [...document.querySelectorAll('[data-testid="output"] a[data-line]')]
                .map(a => ({line: a.dataset.line, text: a.textContent}));
        """)
        # The run's own cell (line 2) links to the editor; the earlier cell's
        # line 3, in fails, is not the editor's now and stays text.
        expect('line 3, in fails' in done['output'], f'the output {done["output"]!r} lacks the earlier cell\'s frame')
        expect(len(links) == 1 and links[0]['line'] == '2' and '<cell ' in links[0]['text'],
               f'traceback links {links}; output {done["output"]!r}')
        self.find('editor').click()
        self.keys().key_down(Keys.CONTROL).send_keys(Keys.HOME).key_up(Keys.CONTROL).perform()
        self.wait(lambda: self.cursor_line() == 0, 'the cursor to be on line 1 after Ctrl+Home')
        self.driver.find_element('css selector', '[data-testid="output"] a[data-line="2"]').click()
        self.wait(lambda: self.cursor_line() == 1, 'the editor cursor to move to line 2')
        return f'a traceback in a session links its own cell ("{links[0]["text"]}") to the editor, not the earlier cell'

    def check_restart(self):
        self.find('restart').click()
        line = self.wait_line('restarted')
        expect('new session' in line['text'], f'after Restart the session line says {line["text"]!r}')
        expect(not self.find('restart').is_enabled(), 'Restart is still enabled after the session closed')
        self.run_expecting('print(x)', 'error', contains="NameError: name 'x' is not defined")
        self.wait_line('open')
        return f'Restart closed the session ("{line["text"]}"); print(x) then raised NameError'

    def check_stop_keeps_session(self):
        self.run_expecting('x = 41', 'ok')
        self.type_program('while True:\n    pass')
        self.find('run').click()
        self.wait(lambda: self.snapshot()['state'] == 'running', 'the busy loop to be running')
        self.find('stop').click()
        done = self.wait_verdict('the interrupted verdict')
        expect(done['verdict'] == 'cancelled', f'verdict {done["verdict"]!r}, expected cancelled; {done}')
        expect('KeyboardInterrupt' in done['output'], f'the output {done["output"]!r} lacks KeyboardInterrupt')
        line = self.session_line()
        expect(line['state'] == 'open', f'after Stop the session line is {line}')
        self.run_expecting('print(x)', 'ok', output='41\n')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        return f'Stop interrupted while True: pass with KeyboardInterrupt; x was still 41; screenshot {self.screenshot}'

    def open_sessions(self):
        """The server's pysandbox_sessions gauge, read directly (not through the relay)."""
        with urllib.request.urlopen(self.server_url + 'metrics', timeout=5) as response:
            text = response.read().decode()
        found = re.search(r'^pysandbox_sessions(?:\{[^}]*\})? (\S+)$', text, re.MULTILINE)
        expect(found, 'the server\'s /metrics has no pysandbox_sessions')
        return float(found.group(1))

    def check_connection_drop(self):
        self.run_expecting('x = 7', 'ok')
        self.wait_line('open')
        expect(self.open_sessions() == 1, f'{self.open_sessions()} sessions open on the server, expected the page\'s one')
        cut = self.relay.cut()
        expect(cut >= 1, 'no connection to cut: the page is not connected through the relay')
        line = self.wait_line('ended')
        expect(line['reason'] == 'connection', f'after the drop the session ended with reason {line["reason"]!r}')
        expect('connection' in line['text'], f'after the drop the session line says {line["text"]!r}')
        self.wait(lambda: self.connection_state()[0] == 'connected', 'the page to reconnect by itself')
        self.wait(lambda: self.open_sessions() == 0, 'the server to end the dropped connection\'s session')
        self.run_expecting("print('x' in globals())", 'ok', output='False\n')
        self.wait_line('open')
        expect(self.open_sessions() == 1, f'{self.open_sessions()} sessions open on the server after the new run, expected 1')
        return (f'cutting the connection ended the session ("{line["text"]}"); the page reconnected, the server '
                'ended the old session, and the next run had a new one')

    def check_toggle_off(self):
        self.driver.find_element('css selector', '.switch-label').click()
        self.wait(lambda: not self.js('return document.querySelector(\'[data-testid="keep-variables"]\').checked'),
                  'a click on the label to turn Keep variables off')
        line = self.wait_line('off')
        expect(line['hidden'], 'the session line is shown with Keep variables off')
        expect(not self.find('restart').is_enabled(), 'Restart is enabled with Keep variables off')
        self.run_expecting("print('x' in globals())", 'ok', output='False\n')
        return "turned off: the session closed, print('x' in globals()) printed False"

    def check_session_idle_end(self):
        self.turn_on_with_keyboard()
        self.run_expecting('x = 1', 'ok')
        self.wait_line('open')
        line = self.wait_line('ended', timeout=self.session_idle_timeout_ms / 1000 + 15)
        expect(line['reason'] == 'idleTimeout', f'the session ended with reason {line["reason"]!r}')
        expect('idle' in line['text'] and 'next run starts a new session' in line['text'],
               f'the session line says {line["text"]!r}')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        self.run_expecting("print('x' in globals())", 'ok', output='False\n')
        self.wait_line('open')
        return f'the session ended by itself, announced as "{line["text"]}"; the next run had a new session'

    def check_no_sessions(self):
        # Keep variables was left on (with a server that had sessions); this
        # one (--isolation exec) has none: no toggle, and every run is fresh.
        self.js("localStorage.setItem('pysandbox.keepVariables', 'true')")
        self.open(self.url)
        self.wait_ready()
        self.wait(lambda: self.js('return document.getElementById("session-controls").hidden'),
                  'the Keep variables controls to be hidden')
        expect(self.session_line()['hidden'], f'the session line is shown: {self.session_line()}')
        self.run_expecting('x = 41', 'ok', output='')
        self.run_expecting("print('x' in globals())", 'ok', output='False\n')
        return 'a server without sessions: Keep variables hidden though it was left on, and runs are fresh'

    def checks(self):
        first = [('1 page loads', self.check_page_loads)]
        last = [('console', self.check_console)]
        if self.no_sessions:
            return first + [('2 no sessions', self.check_no_sessions)] + last
        if self.session_idle_timeout_ms is not None:
            return first + [('2 session idle timeout', self.check_session_idle_end)] + last
        return first + [
            ('2 toggle', self.check_toggle),
            ('3 names persist', self.check_names_persist),
            ('4 traceback links in a cell', self.check_cell_traceback),
            ('5 restart', self.check_restart),
            ('6 stop keeps the session', self.check_stop_keeps_session),
            ('7 connection drop', self.check_connection_drop),
            ('8 toggle off', self.check_toggle_off),
        ] + last


if __name__ == '__main__':
    # Our own option; the rest are editor_test.py's.
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--session-idle-timeout-ms', type=int)
    parser.add_argument('--expect-no-sessions', action='store_true')
    known, rest = parser.parse_known_args()
    SessionTest.session_idle_timeout_ms = known.session_idle_timeout_ms
    SessionTest.no_sessions = known.expect_no_sessions
    sys.argv = [sys.argv[0], *rest]
    sys.exit(main(SessionTest, __doc__))
