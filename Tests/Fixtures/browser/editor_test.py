#!/usr/bin/python3
"""Drives sandboxd's web editor in headless Chromium, like a person would.

    python3 editor_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor.png
    python3 editor_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/fallback.png --expect-fallback

Needs Debian's python3-selenium, /usr/bin/chromium and /usr/bin/chromedriver.
Each check prints one `ok: ...` line. The first failure prints `FAIL: ...`,
saves a screenshot of the page next to --screenshot (NAME-failure.png) and
exits 1. --expect-fallback expects the server to lack CodeMirror
(`sandboxd --codemirror /nonexistent`): the editor is then the plain
textarea and a notice says so. --idle-timeout SECONDS (the server's
`--idle-timeout`) checks only that the idle page is disconnected, says so,
stays so, and reconnects when Run is clicked.
"""

import argparse
import os
import re
import sys
import time
import traceback

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    # python3 may be another interpreter (pyenv, a venv); Debian's has python3-selenium.
    DEBIAN_PYTHON = '/usr/bin/python3'
    if os.path.exists(DEBIAN_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, *sys.argv])
    sys.exit('editor_test.py needs selenium: apt install python3-selenium')

WAIT = 15          # seconds for anything to happen
INDENT = 4
WIDE = (1280, 900)
NARROW = (400, 800)


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def auto_indent(previous_line):
    """The indentation the editor gives a new line after `previous_line`
    (CodeMirror's python mode, and the fallback editor, for simple code)."""
    indent = len(previous_line) - len(previous_line.lstrip(' '))
    code = previous_line.split('#', 1)[0].strip()
    if code.endswith(':'):
        return indent + INDENT
    if re.match(r'(return|pass)\b', code):
        return max(0, indent - INDENT)
    return indent


class EditorTest:
    def __init__(self, driver, url, screenshot, fallback, token=None, idle_timeout=None):
        self.idle_timeout = idle_timeout
        self.driver = driver
        self.url = url
        self.screenshot = screenshot
        self.fallback = fallback
        self.token = token
        self.console = []

    # ------------------------------------------------------------ helpers

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, what, timeout=WAIT):
        """Waits until condition() is truthy and returns its value."""
        def probe(_driver):
            return condition()
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(probe)
        except TimeoutException:
            raise CheckFailed(f'timed out after {timeout} s waiting for {what}; {self.describe()}') from None

    def describe(self):
        """The page's state, for failure messages."""
        try:
            snap = self.snapshot()
            out = snap['output']
            return (f"status={snap['state']!r} verdict={snap['verdict']!r} "
                    f"status text={snap['statusText']!r} output={out[-300:]!r}")
        except Exception as err:  # the page may be gone
            return f'(page state unavailable: {err})'

    def find(self, testid):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def snapshot(self):
        """Status, output and buttons, read at one instant. The output is the
        last run's: with Keep variables, the output of the last cell."""
        return self.js("""
            const q = (id) => document.querySelector(`[data-testid="${id}"]`);
            const status = q('status');
            const cells = q('output').querySelectorAll('[data-testid="cell"]');
            const output = cells.length ? cells[cells.length - 1].querySelector('[data-testid="cell-output"]') : q('output');
            return {
              state: status.dataset.state,
              verdict: status.dataset.verdict || null,
              exitCode: status.dataset.exitCode ?? null,
              statusText: status.textContent.replace(/\\s+/g, ' ').trim(),
              output: output.textContent,
              runDisabled: q('run').disabled,
              stopDisabled: q('stop').disabled,
              stdinDisabled: q('stdin').disabled,
            };
        """)

    def editor_value(self):
        return self.js("""
            const el = document.querySelector('[data-testid="editor"]');
            return el.CodeMirror ? el.CodeMirror.getValue() : el.value;
        """)

    def cursor_line(self):
        """0-based line of the editor's cursor."""
        return self.js("""
            const el = document.querySelector('[data-testid="editor"]');
            if (el.CodeMirror) return el.CodeMirror.getCursor().line;
            return el.value.slice(0, el.selectionStart).split('\\n').length - 1;
        """)

    def editor_has_focus(self):
        return self.js("""
            const el = document.querySelector('[data-testid="editor"]');
            return el === document.activeElement || el.contains(document.activeElement);
        """)

    def wait_ready(self):
        """The page has set up its editor and is connected."""
        self.wait(lambda: self.js('return document.body.dataset.editor || null'), 'the editor to be set up')
        # With a short --idle-timeout the page may already be idle (closed, reconnecting when run).
        self.wait(lambda: self.find('connection').text.strip() == 'connected'
                  or (self.idle_timeout is not None and self.connection_state()[0] == 'idle'),
                  'the connection indicator to say "connected"')
        self.wait(lambda: self.find('run').is_enabled(), 'the Run button to be enabled')

    def keys(self):
        return ActionChains(self.driver)

    def type_program(self, source):
        """Clears the editor and types `source` with the keyboard. The editor
        indents new lines itself: only the difference is typed (spaces, or
        Backspace, which goes back one indentation level)."""
        editor = self.find('editor')
        editor.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
        self.wait(lambda: self.editor_value() == '', 'the editor to be empty after Ctrl+A, Delete')
        previous = None
        for line in source.split('\n'):
            actions = self.keys()
            indent = 0
            if previous is not None:
                actions.send_keys(Keys.ENTER)
                indent = auto_indent(previous)
            stripped = line.lstrip(' ')
            wanted = len(line) - len(stripped)
            while indent > wanted:
                actions.send_keys(Keys.BACKSPACE)
                indent = (indent - 1) // INDENT * INDENT
            if wanted > indent:
                actions.send_keys(' ' * (wanted - indent))
            if stripped:
                actions.send_keys(stripped)
            actions.perform()
            previous = line
        value = self.wait(lambda: (lambda v: v if v == source else None)(self.editor_value()),
                          f'the editor to hold exactly {source!r} (it holds {self.editor_value()!r})',
                          timeout=5)
        return value

    def wait_verdict(self, what='the verdict'):
        return self.wait(lambda: (lambda s: s if s['state'] == 'done' else None)(self.snapshot()), what)

    def run_and_wait(self, source):
        self.type_program(source)
        self.find('run').click()
        return self.wait_verdict()

    def collect_console(self):
        try:
            self.console.extend(self.driver.get_log('browser'))
        except Exception:  # not every driver keeps a log
            pass

    # ------------------------------------------------------------- checks

    def check_page_loads(self):
        if self.token:
            # Without the token the page cannot connect, and says why.
            self.open(self.url)
            self.wait(lambda: 'token needed' in self.find('connection').text, 'the indicator to say a token is needed')
            self.collect_console()
            self.console = []   # the refused attempts are logged as errors, as they should be
        self.open(f'{self.url}?token={self.token}' if self.token else self.url)
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, '[data-testid="editor"]'),
                  'the editor element')
        self.wait_ready()
        if self.token:
            expect('token' not in self.driver.current_url, f'the token is still in the address: {self.driver.current_url}')
            # The server keeps it in an HttpOnly cookie: no script of the page can read it.
            cookies = self.driver.execute_script('return document.cookie')
            expect('pysandbox_token' not in cookies, f'a script can read the token cookie: {cookies!r}')
            stored = [c for c in self.driver.get_cookies() if c['name'] == 'pysandbox_token']
            expect(len(stored) == 1 and stored[0].get('httpOnly') and stored[0].get('sameSite') == 'Strict'
                   and stored[0].get('path') == '/', f'the token cookie is {stored}')
        editor = self.find('editor')
        notice = self.find('editor-notice')
        classes = (editor.get_attribute('class') or '').split()
        if self.fallback:
            expect(editor.tag_name == 'textarea', f'the editor is a <{editor.tag_name}>, not the fallback textarea')
            expect('CodeMirror' not in classes, 'CodeMirror is in use, but the server was expected to lack it')
            expect(notice.is_displayed(), 'the fallback notice is not shown')
            expect('CodeMirror is not installed' in notice.text, f'the fallback notice says {notice.text!r}')
            return f'page loads, plain textarea editor with notice "{notice.text}", connected'
        expect('CodeMirror' in classes, f'the editor element has classes {classes}, not CodeMirror')
        expect(not notice.is_displayed(), f'a notice is shown: {notice.text!r}')
        mode = self.js("return document.querySelector('.CodeMirror').CodeMirror.getOption('mode')")
        expect(mode and mode.get('name') == 'python', f'the editor mode is {mode!r}')
        return 'page loads, CodeMirror editor in python mode, connection indicator says connected'

    def open(self, url):
        try:
            self.driver.get(url)
        except WebDriverException as err:
            raise CheckFailed(f'could not open {url}: {(err.msg or "").splitlines()[0]}') from None

    def check_typing(self):
        source = "def greet(who):\n    return 'hello, ' + who\nprint(greet('world'))"
        self.type_program(source)
        detail = ''
        if not self.fallback:
            keywords = self.js("return [...document.querySelectorAll('.CodeMirror .cm-keyword')].map(e => e.textContent)")
            numbers = self.js("return document.querySelectorAll('.CodeMirror-linenumber').length")
            expect('def' in keywords and 'return' in keywords, f'keywords highlighted: {keywords}')
            expect(numbers >= 3, f'{numbers} line numbers shown')
            detail = ' (syntax highlighted, line numbers, auto-indent and dedent)'
        snap = self.run_and_wait(source)
        expect(snap['verdict'] == 'ok' and 'hello, world' in snap['output'],
               f'running the typed program gave {snap}')
        return f'typed a program with the keyboard, editor holds exactly what was meant{detail}; it runs'

    def check_streaming(self):
        source = "import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second')"
        self.type_program(source)
        self.find('run').click()
        seen = self.wait(lambda: (lambda s: s if 'first' in s['output'] else None)(self.snapshot()),
                         '"first" in the output')
        expect(seen['state'] == 'running',
               f'"first" appeared with the status {seen["state"]!r}, not while running')
        expect('second' not in seen['output'], 'both lines arrived at once, not streamed')
        expect(seen['runDisabled'] and not seen['stopDisabled'],
               'while running, Run should be disabled and Stop enabled')
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok', f'verdict {done["verdict"]!r}, expected ok; {done}')
        expect(done['output'] == 'first\nsecond\n', f'output {done["output"]!r}')
        expect('exit code 0' in done['statusText'], f'status line {done["statusText"]!r} lacks "exit code 0"')
        for word in ('wall', 'CPU', 'max RSS'):
            expect(word in done['statusText'], f'status line {done["statusText"]!r} lacks {word!r}')
        expect(not done['runDisabled'] and done['stopDisabled'], 'after the run, Run should be enabled and Stop disabled')
        return f'output streams: "first" shown while running, then verdict ok ({done["statusText"]})'

    def check_input(self):
        source = "name = input('name? ')\nprint('hello', name)"
        self.type_program(source)
        self.find('run').click()
        self.wait(lambda: 'name? ' in self.snapshot()['output'], 'the prompt "name? " in the output')
        stdin = self.find('stdin')
        self.wait(stdin.is_enabled, 'the stdin line to be enabled')
        stdin.click()
        self.keys().send_keys('bob').send_keys(Keys.ENTER).perform()
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok', f'verdict {done["verdict"]!r}, expected ok; {done}')
        expect('hello bob' in done['output'], f'output {done["output"]!r} lacks "hello bob"')
        echoed = self.js("""return [...document.querySelectorAll('[data-testid="output"] [data-stream="stdin"]')]
                            .map(e => e.textContent).join('')""")
        expect(echoed == 'bob\n', f'the echo of the input is {echoed!r}')
        return 'input(): prompt shown, "bob" sent from the stdin line and echoed, "hello bob", verdict ok'

    def check_stop(self):
        source = "import time\nwhile True:\n    time.sleep(0.1)"
        self.type_program(source)
        self.find('run').click()
        self.wait(lambda: self.snapshot()['state'] == 'running', 'the run to be running')
        stop = self.find('stop')
        expect(stop.is_enabled(), 'Stop is disabled while running')
        stop.click()
        done = self.wait_verdict()
        expect(done['verdict'] == 'cancelled', f'verdict {done["verdict"]!r}, expected cancelled; {done}')
        expect(not done['runDisabled'] and done['stopDisabled'], 'after stopping, Run should be enabled, Stop disabled')
        return f'Stop cancels a running program (status line: {done["statusText"]})'

    def check_traceback(self):
        source = "x = 1\ny = 2\nraise ValueError('boom')"
        done = self.run_and_wait(source)
        expect(done['verdict'] == 'error', f'verdict {done["verdict"]!r}, expected error; {done}')
        expect('exit code 1' in done['statusText'], f'status line {done["statusText"]!r}')
        styles = self.js("""
            const out = document.querySelector('[data-testid="output"]');
            const err = [...out.querySelectorAll('[data-stream="stderr"]')];
            return {text: err.map(e => e.textContent).join(''),
                    color: err.length ? getComputedStyle(err[0]).color : null,
                    normal: getComputedStyle(out).color};
        """)
        expect('ValueError: boom' in styles['text'], f'stderr text {styles["text"]!r} lacks "ValueError: boom"')
        expect(styles['color'] != styles['normal'], f'stderr has the same colour as stdout ({styles["color"]})')
        # Put the cursor elsewhere first, so the link has something to do.
        self.find('editor').click()
        self.keys().key_down(Keys.CONTROL).send_keys(Keys.HOME).key_up(Keys.CONTROL).perform()
        self.wait(lambda: self.cursor_line() == 0, 'the cursor to be on line 1 after Ctrl+Home')
        link = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="output"] a[data-line="3"]')
        expect('line 3' in link.text, f'the traceback link reads {link.text!r}')
        link.click()
        self.wait(lambda: self.cursor_line() == 2, 'the editor cursor to move to line 3')
        self.wait(self.editor_has_focus, 'the editor to have the focus')
        return 'traceback: verdict error, "ValueError: boom" in stderr colour, link to line 3 moves the cursor there'

    def check_ctrl_enter(self):
        source = 'print(6*7)'
        self.type_program(source)
        self.keys().key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        done = self.wait_verdict('the verdict after Ctrl+Enter')
        expect(done['verdict'] == 'ok' and done['output'] == '42\n', f'Ctrl+Enter run gave {done}')
        expect(self.editor_value() == source, f'Ctrl+Enter changed the code to {self.editor_value()!r}')
        return 'Ctrl+Enter in the editor runs the code: 42'

    def check_comment_toggle(self):
        source = 'a = 1\nif a:\n    print(a)'
        self.type_program(source)
        toggle = lambda: self.keys().key_down(Keys.CONTROL).send_keys('/').key_up(Keys.CONTROL).perform()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).perform()
        toggle()
        commented = '# a = 1\n# if a:\n#     print(a)'
        self.wait(lambda: self.editor_value() == commented,
                  f'Ctrl+/ on all lines to comment them (the editor holds {self.editor_value()!r})')
        toggle()
        self.wait(lambda: self.editor_value() == source,
                  f'Ctrl+/ again to uncomment them (the editor holds {self.editor_value()!r})')
        # One line, indented: the comment goes at its indentation.
        self.keys().key_down(Keys.CONTROL).send_keys(Keys.END).key_up(Keys.CONTROL).perform()
        toggle()
        one = 'a = 1\nif a:\n    # print(a)'
        self.wait(lambda: self.editor_value() == one, f'Ctrl+/ on line 3 alone (the editor holds {self.editor_value()!r})')
        toggle()
        self.wait(lambda: self.editor_value() == source, f'Ctrl+/ again on line 3 (the editor holds {self.editor_value()!r})')
        return 'Ctrl+/ comments and uncomments the selected lines, and one line at its indentation'

    def check_cpu_time(self):
        info = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/info', {cache: 'no-store'}).then((r) => r.json()).then(done, (err) => done({error: String(err)}));
        """)
        expect('limits' in info, f'GET /v1/info from the page gave {info}')
        limit = info['limits']['cpuTimeMs']
        field = self.find('cpu-time')
        expect(field.is_displayed(), 'the CPU time field is not shown')
        maximum = field.get_attribute('max')
        expect(float(maximum) * 1000 == limit['max'], f'the CPU time field allows up to {maximum} s, the server {limit["max"]} ms')
        field.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys('99999', Keys.TAB).perform()
        clamped = field.get_attribute('value')
        expect(float(clamped) * 1000 == limit['max'], f'99999 s became {clamped!r}, not the maximum')
        # The run carries it: record what the page sends.
        self.js("""
            if (!window.sentFrames) {
              window.sentFrames = [];
              const send = WebSocket.prototype.send;
              WebSocket.prototype.send = function (data) { window.sentFrames.push(String(data)); return send.call(this, data); };
            }
        """)
        field.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys('2', Keys.TAB).perform()
        done = self.run_and_wait('print(6*7)')
        expect(done['verdict'] == 'ok', f'a run with a CPU time limit of 2 s gave {done}')
        sent = [p for p in self.js('return window.sentFrames') if '"run"' in p]
        expect(sent and '"cpuTimeMs":2000' in sent[-1], f'the run sent was {sent[-1:]}')
        # Back to the default, so that later runs take warm sandboxes again.
        field.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(
            str(limit['default'] / 1000), Keys.TAB).perform()
        note = self.find('limits-note')
        cgroups = info['capabilities']['cgroups']
        expect(note.is_displayed() == (not cgroups),
               f'the weaker-limits note is {"shown" if note.is_displayed() else "hidden"} with cgroups {cgroups}')
        return (f'CPU time field bounded by the server\'s {limit["max"]} ms, sent as cpuTimeMs; '
                f'weaker-limits note {"shown" if not cgroups else "hidden"} (cgroups {cgroups})')

    def check_reload(self):
        self.find('timeout').click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys('7.5', Keys.TAB).perform()
        self.driver.refresh()
        self.wait_ready()
        value = self.editor_value()
        expect(value == 'print(6*7)', f'after reload the editor holds {value!r}')
        remembered = self.find('timeout').get_attribute('value')
        expect(remembered == '7.5', f'after reload the time limit is {remembered!r}, not 7.5')
        return 'after a reload the code (and the chosen time limit) are still there'

    def check_narrow(self):
        self.driver.set_window_size(*NARROW)
        geometry = self.wait(lambda: self.js("""
            const vw = document.documentElement.clientWidth;
            if (vw > 450) return null;   // not resized yet
            const rect = (id) => {
              const r = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
              return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width};
            };
            return {vw, scrollWidth: document.documentElement.scrollWidth,
                    run: rect('run'), stop: rect('stop'), output: rect('output'), editor: rect('editor'),
                    stdin: rect('stdin'), status: rect('status')};
        """), 'the window to become narrow')
        vw = geometry['vw']
        for name in ('run', 'output'):
            expect(self.find(name).is_displayed(), f'{name} is not visible at {NARROW[0]} px')
        for name in ('run', 'stop', 'output', 'editor', 'stdin', 'status'):
            r = geometry[name]
            expect(r['width'] > 0 and r['left'] >= 0 and r['right'] <= vw + 0.5,
                   f'{name} spans {r["left"]:.0f}..{r["right"]:.0f} px, beyond the {vw} px viewport')
        expect(geometry['scrollWidth'] <= vw, f'the page scrolls sideways ({geometry["scrollWidth"]} > {vw} px)')
        expect(geometry['editor']['bottom'] <= geometry['output']['top'], 'the editor is not above the output')
        self.driver.set_window_size(*WIDE)
        wide = self.wait(lambda: self.js("""
            if (document.documentElement.clientWidth < 1000) return null;
            const r = (id) => document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
            return {editorRight: r('editor').right, outputLeft: r('output').left};
        """), 'the window to become wide again')
        expect(wide['editorRight'] <= wide['outputLeft'], 'on a wide window editor and output are not side by side')
        return (f'narrow screen ({NARROW[0]}x{NARROW[1]}): controls and output fit the {vw} px viewport, '
                'editor above output; side by side again when wide')

    def check_screenshot(self):
        source = ("import sys\nname = input('name? ')\nprint(f'hello, {name}!')\n"
                  "for n in range(1, 6):\n    print(n, n * n)\nprint('a note on stderr', file=sys.stderr)")
        self.type_program(source)
        self.find('run').click()
        self.wait(lambda: 'name? ' in self.snapshot()['output'], 'the prompt')
        self.find('stdin').click()
        self.keys().send_keys('Ada').send_keys(Keys.ENTER).perform()
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok', f'verdict {done["verdict"]!r}; {done}')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        return f'screenshot saved to {self.screenshot}'

    def check_console(self):
        self.collect_console()
        problems = []
        for entry in self.console:
            message = entry.get('message', '')
            if entry.get('level') != 'SEVERE' and 'Content Security Policy' not in message:
                continue
            if self.fallback and '/vendor/codemirror/' in message:
                continue   # the fallback's expected 404s
            problems.append(message)
        expect(not problems, 'the browser console has errors:\n  ' + '\n  '.join(problems))
        return 'no errors and no Content-Security-Policy violations in the browser console'

    def connection_state(self):
        pill = self.find('connection')
        return pill.get_attribute('data-state'), pill.text.strip()

    def check_idle(self):
        # No keepalive: the server's idle timeout closes the open page's connection.
        state, text = self.wait(lambda: (lambda c: c if c[0] == 'idle' else None)(self.connection_state()),
                                'the server to close the idle connection', timeout=self.idle_timeout + 10)
        expect('reconnects when you run' in text, f'the indicator says {text!r} after the idle close')
        expect(self.find('run').is_enabled(), 'the Run button is disabled while idle')
        # It does not reconnect on its own (that would reset the server's idle clock forever).
        time.sleep(min(self.idle_timeout, 2) + 1)
        state, text = self.connection_state()
        expect(state == 'idle', f'the page reconnected by itself: the indicator says {text!r}')
        snap = self.run_and_wait("print('awake')")
        expect(snap['verdict'] == 'ok' and snap['output'] == 'awake\n', f'the run after the idle close gave {snap}')
        state, text = self.connection_state()
        expect(state == 'connected', f'after the run the indicator says {text!r}')
        return f'closed after the idle timeout, indicator "idle — reconnects when you run", stayed closed; Run reconnected and ran'

    def checks(self):
        if self.idle_timeout is not None:
            return [('1 page loads', self.check_page_loads), ('2 idle timeout', self.check_idle),
                    ('3 console', self.check_console)]
        return [
            ('1 page loads', self.check_page_loads),
            ('2 typing', self.check_typing),
            ('3 streaming', self.check_streaming),
            ('4 input()', self.check_input),
            ('5 stop', self.check_stop),
            ('6 traceback links', self.check_traceback),
            ('7 Ctrl+Enter', self.check_ctrl_enter),
            ('7b Ctrl+/', self.check_comment_toggle),
            ('8 CPU time limit', self.check_cpu_time),
            ('9 reload', self.check_reload),
            ('10 narrow screen', self.check_narrow),
            ('11 screenshot', self.check_screenshot),
            ('12 console', self.check_console),
        ]


def make_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                f'--window-size={WIDE[0]},{WIDE[1]}', '--force-prefers-reduced-motion'):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    driver.set_window_size(*WIDE)
    return driver


def main(test_class=EditorTest, description=__doc__):
    """Runs test_class's checks (display_test.py brings its own)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--url', required=True, help="the editor's address, e.g. http://127.0.0.1:8765/")
    parser.add_argument('--screenshot', required=True, help='where to save a PNG of the editor after a run')
    parser.add_argument('--expect-fallback', action='store_true',
                        help='the server has no CodeMirror: expect the plain textarea and its notice')
    parser.add_argument('--token', help='the server needs this token: first check the page says so, then open it as ?token=')
    parser.add_argument('--idle-timeout', type=float,
                        help="the server's --idle-timeout in seconds: check only the page's behaviour after an idle close")
    args = parser.parse_args()

    mode = 'fallback textarea' if args.expect_fallback else 'CodeMirror'
    print(f'editor_test: {args.url} ({mode})', flush=True)
    driver = make_driver()
    test = test_class(driver, args.url, args.screenshot, args.expect_fallback, args.token, args.idle_timeout)
    current = None
    try:
        for name, check in test.checks():
            current = name
            message = check()
            test.collect_console()
            print(f'ok: {name}: {message}', flush=True)
    except Exception as err:
        base, _ = os.path.splitext(os.path.abspath(args.screenshot))
        failure_png = f'{base}-failure.png'
        detail = str(err) if isinstance(err, CheckFailed) else ''.join(
            traceback.format_exception(type(err), err, err.__traceback__))
        print(f'FAIL: {current}: {detail}', file=sys.stderr, flush=True)
        try:
            os.makedirs(os.path.dirname(failure_png), exist_ok=True)
            driver.save_screenshot(failure_png)
            print(f'failure screenshot: {failure_png}', file=sys.stderr)
            test.collect_console()
            for entry in test.console[-20:]:
                print(f"console {entry.get('level')}: {entry.get('message')}", file=sys.stderr)
        except Exception as shot_err:
            print(f'(no failure screenshot: {shot_err})', file=sys.stderr)
        return 1
    finally:
        driver.quit()
    print(f'all checks passed ({mode})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
