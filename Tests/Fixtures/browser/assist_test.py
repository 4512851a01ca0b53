#!/usr/bin/python3
"""Drives the web editor's completion, help and cells in headless Chromium.

    python3 assist_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor-assist.png

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check: sandboxd serves CodeMirror's show-hint and runmode addons and the page
loads them; typing `math.` after `import math` opens the completion list
(code/complete, from the code) with sqrt, a function, while typing more
of the name filters the list without asking the server again, and Enter
inserts it, with an emoji before the cursor (code points, not UTF-16);
with Keep variables on, `my_lo` and Ctrl+Space offer a variable the
session holds (code/complete with the session); Shift+Tab on `len(`
shows its signature and docstring (code/inspect), Escape closes it; two
runs with Keep variables on leave two cells, each with its code, output and
verdict, and Clear empties them while the session keeps its variables; a
verdict with rolledBack says so in its cell. Screenshots: the completion
list (--screenshot), the help panel (NAME-inspect.png), the cells
(NAME-cells.png).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import EditorTest, Keys, expect, main  # noqa: E402  (re-execs with Debian's python3)


class AssistTest(EditorTest):

    # ------------------------------------------------------------ helpers

    def shot(self, suffix=''):
        base, ext = os.path.splitext(os.path.abspath(self.screenshot))
        path = f'{base}-{suffix}{ext}' if suffix else os.path.abspath(self.screenshot)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        expect(self.driver.save_screenshot(path), f'the screenshot {path} could not be saved')
        return path

    def record_frames(self):
        """From now on window.sentFrames holds every message the page sends."""
        self.js("""
            if (!window.sentFrames) {
              const send = WebSocket.prototype.send;
              WebSocket.prototype.send = function (data) { window.sentFrames.push(String(data)); return send.call(this, data); };
            }
            window.sentFrames = [];
        """)

    def sent(self, method):
        frames = [json.loads(frame) for frame in self.js('return window.sentFrames')]
        return [frame for frame in frames if frame.get('method') == method]

    def hints(self):
        """The completion list shown: [{name, kind, active}], or None when there is none."""
        return self.js("""
            const list = document.querySelector('.CodeMirror-hints');
            if (!list) return null;
            return [...list.querySelectorAll('li')].map((li) => ({
              name: li.dataset.name, kind: li.dataset.kind || null,
              active: li.classList.contains('CodeMirror-hint-active')}));
        """)

    def wait_hints(self, what, condition=lambda hints: True):
        return self.wait(lambda: (lambda h: h if h and condition(h) else None)(self.hints()),
                         f'the completion list {what} (it is {self.hints()})')

    def clear_editor(self):
        self.find('editor').click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
        self.wait(lambda: self.editor_value() == '', 'the editor to be empty')

    def set_code(self, code):
        """Puts `code` in the editor with the cursor at its end (ChromeDriver types no emoji)."""
        self.find('editor').click()
        self.js("""
            const cm = document.querySelector('.CodeMirror').CodeMirror;
            cm.setValue(arguments[0]);
            cm.setCursor(cm.posFromIndex(arguments[0].length));
            cm.focus();
        """, code)

    def cells(self):
        return self.js("""
            return [...document.querySelectorAll('[data-testid="output"] [data-testid="cell"]')].map((cell) => ({
              code: [...cell.querySelectorAll('.cell-code-line')].map((line) => line.textContent).join('\\n'),
              output: cell.querySelector('[data-testid="cell-output"]').textContent,
              state: cell.dataset.state, verdict: cell.dataset.verdict || null,
              foot: cell.querySelector('.cell-foot').textContent,
              rolledBack: cell.dataset.rolledBack === 'true',
              rolledBackText: cell.querySelector('[data-testid="cell-rolled-back"]').hidden ? ''
                : cell.querySelector('[data-testid="cell-rolled-back"]').textContent,
              highlighted: cell.querySelectorAll('.cell-code .cm-keyword, .cell-code .cm-builtin').length}));
        """)

    def keep_variables_on(self):
        self.wait(lambda: self.js('return !document.getElementById("session-controls").hidden'),
                  'the Keep variables toggle to be shown')
        if not self.js('return document.querySelector(\'[data-testid="keep-variables"]\').checked'):
            self.driver.find_element('css selector', '.switch-label').click()
        self.wait(lambda: self.js('return document.querySelector(\'[data-testid="keep-variables"]\').checked'),
                  'Keep variables to be on')

    # ------------------------------------------------------------- checks

    def check_addons(self):
        loaded = self.js("""
            const CM = window.CodeMirror;
            return {showHint: typeof CM.prototype.showHint === 'function' || typeof CM.showHint === 'function',
                    runMode: typeof CM.runMode === 'function',
                    hintStyle: [...document.styleSheets].some((s) => (s.href || '').endsWith('/addon/hint/show-hint.css'))};
        """)
        expect(all(loaded.values()), f'CodeMirror addons loaded: {loaded}')
        statuses = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const paths = ['/vendor/codemirror/addon/hint/show-hint.js', '/vendor/codemirror/addon/hint/show-hint.css',
                           '/vendor/codemirror/addon/runmode/runmode.js'];
            Promise.all(paths.map((p) => fetch(p, {cache: 'no-store'}).then((r) => [p, r.status, r.headers.get('content-type')])))
              .then(done, (err) => done(String(err)));
        """)
        expect(isinstance(statuses, list) and all(status == 200 for _, status, _ in statuses),
               f'sandboxd served the addons as {statuses}')
        keys = self.js('return document.getElementById("editor-keys").textContent')
        expect('Ctrl+Space' in keys and 'Shift+Tab' in keys, f'the editor\'s key hint says {keys!r}')
        return f'sandboxd serves show-hint.js, show-hint.css and runmode.js ({statuses[0][2]}), the page loads them'

    def check_completion_from_code(self):
        self.record_frames()
        # An emoji (two UTF-16 units, one code point) before the cursor: the cursor sent is in code points.
        prefix = 'import math\nface = "😀"\n'
        self.set_code(prefix)
        self.keys().send_keys('math.').perform()
        hints = self.wait_hints('to offer sqrt', lambda h: any(x['name'] == 'sqrt' for x in h))
        sqrt = next(x for x in hints if x['name'] == 'sqrt')
        expect(sqrt['kind'] == 'function', f'sqrt is shown as {sqrt["kind"]!r}, not a function')
        expect(not any(x['name'].startswith('_') for x in hints), f'names with _ offered after "math.": {hints[:5]}')
        asked = self.sent('code/complete')
        expect(len(asked) == 1, f'{len(asked)} code/complete requests after typing "math." and a pause: {asked}')
        code = asked[0]['params']['code']
        expect(asked[0]['params']['cursor'] == len(code) and 'session' not in asked[0]['params'],
               f'the request was {asked[0]["params"]} (cursor {len(code)} in code points expected, no session)')
        expect(self.js('return document.querySelector(".CodeMirror").CodeMirror.getValue().length') == len(code) + 1,
               'the test\'s emoji is not two UTF-16 units')
        self.shot()
        # More of the name filters what the server gave: no new request.
        self.keys().send_keys('sqr').perform()
        self.wait_hints('to narrow to sqrt', lambda h: [x['name'] for x in h] == ['sqrt'])
        expect(len(self.sent('code/complete')) == 1, f'typing "sqr" asked again: {self.sent("code/complete")}')
        self.keys().send_keys(Keys.TAB).perform()
        self.wait(lambda: self.editor_value() == prefix + 'math.sqrt', f'Tab to insert sqrt ({self.editor_value()!r})')
        self.wait(lambda: self.hints() is None, 'the list to close after Tab')
        # Escape closes a list; one that opened by itself leaves Enter to the line.
        self.keys().send_keys('(math.f').perform()
        self.wait_hints('to offer floor', lambda h: any(x['name'] == 'floor' for x in h))
        self.keys().send_keys(Keys.ESCAPE).perform()
        self.wait(lambda: self.hints() is None, 'Escape to close the list')
        self.keys().send_keys('l').perform()
        self.wait_hints('to offer floor again', lambda h: [x['name'] for x in h] == ['floor'])
        self.keys().send_keys(Keys.ENTER).perform()
        self.wait(lambda: self.editor_value().startswith(prefix + 'math.sqrt(math.fl\n'),
                  f'Enter to start a new line ({self.editor_value()!r})')
        self.wait(lambda: self.hints() is None, 'the list to close after Enter')
        done = self.run_and_wait('import math\nprint(math.sqrt(16))')
        expect(done['verdict'] == 'ok' and done['output'] == '4.0\n', f'the completed program ran: {done}')
        return (f'"math." offered {len(hints)} names with sqrt (function), one request with the cursor in code points '
                'after an emoji; "sqr" narrowed the list without asking again; Tab inserted sqrt; Escape closed a list; '
                'Enter started a new line in a list that opened by itself')

    def check_completion_from_session(self):
        self.keep_variables_on()
        done = self.run_and_wait('my_long_variable_name = 1')
        expect(done['verdict'] == 'ok', f'the run defining the variable gave {done}')
        self.wait(lambda: self.js('return document.querySelector(\'[data-testid="session-line"]\').dataset.state') == 'open',
                  'the session to be open')
        self.record_frames()
        self.clear_editor()
        self.keys().send_keys('my_lo').key_down(Keys.CONTROL).send_keys(Keys.SPACE).key_up(Keys.CONTROL).perform()
        hints = self.wait_hints('to offer my_long_variable_name',
                                lambda h: any(x['name'] == 'my_long_variable_name' for x in h))
        asked = self.sent('code/complete')
        expect(asked and all(a['params'].get('session', '').startswith('s-') for a in asked),
               f'the completion requests did not name the session: {asked}')
        kind = next(x['kind'] for x in hints if x['name'] == 'my_long_variable_name')
        self.keys().send_keys(Keys.ENTER).perform()
        self.wait(lambda: self.editor_value() == 'my_long_variable_name',
                  f'Enter to insert the name ({self.editor_value()!r})')
        return f'Ctrl+Space after "my_lo" offered the session\'s my_long_variable_name ({kind}), asked with the session'

    def check_inspect(self):
        self.clear_editor()
        self.keys().send_keys('len(').perform()
        self.wait(lambda: self.editor_value() in ('len(', 'len()'), f'"len(" typed ({self.editor_value()!r})')
        self.record_frames()
        self.keys().key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        text = self.wait(lambda: self.js("""
            const panel = document.querySelector('[data-testid="inspect"]');
            return panel && panel.dataset.state === 'found' ? panel.textContent : null;
        """), 'the help panel to show len\'s docstring')
        expect('Return the number of items' in text and 'len(' in text, f'the help panel says {text!r}')
        expect(self.editor_value() in ('len(', 'len()'), f'Shift+Tab changed the code to {self.editor_value()!r}')
        asked = self.sent('code/inspect')
        expect(len(asked) == 1 and asked[0]['params']['cursor'] == 4, f'the inspect requests were {asked}')
        geometry = self.js("""
            const panel = document.querySelector('[data-testid="inspect"]').getBoundingClientRect();
            const cursor = document.querySelector('.CodeMirror-cursor').getBoundingClientRect();
            return {panelTop: panel.top, panelLeft: panel.left, panelRight: panel.right,
                    cursorBottom: cursor.bottom, vw: document.documentElement.clientWidth};
        """)
        expect(geometry['panelTop'] >= geometry['cursorBottom'] - 1 and geometry['panelRight'] <= geometry['vw'],
               f'the panel is not under the cursor, within the window: {geometry}')
        self.shot('inspect')
        self.keys().send_keys(Keys.ESCAPE).perform()
        self.wait(lambda: not self.driver.find_elements('css selector', '[data-testid="inspect"]'),
                  'Escape to close the help panel')
        # With only indentation before the cursor, Shift+Tab still dedents.
        self.clear_editor()
        self.keys().send_keys('if True:', Keys.ENTER).perform()
        self.wait(lambda: self.editor_value() == 'if True:\n    ', 'the auto-indent')
        self.keys().key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        self.wait(lambda: self.editor_value() == 'if True:\n', f'Shift+Tab in the indentation to dedent ({self.editor_value()!r})')
        first = text.splitlines()[0] if text else ''
        return f'Shift+Tab on "len(" showed "{first}" and "Return the number of items…" under the cursor; Escape closed it'

    def check_cells(self):
        self.keep_variables_on()
        self.find('clear').click()
        self.wait(lambda: self.cells() == [], 'Clear to empty the cells')
        first = self.run_and_wait('a = 20\nprint(a)')
        second = self.run_and_wait('print(a + 1)')
        expect(first['output'] == '20\n' and second['output'] == '21\n', f'the runs printed {first} and {second}')
        cells = self.cells()
        expect(len(cells) == 2, f'{len(cells)} cells after two runs: {cells}')
        expect([c['code'] for c in cells] == ['a = 20\nprint(a)', 'print(a + 1)'], f'the cells show {cells}')
        expect([c['output'] for c in cells] == ['20\n', '21\n'], f'the cells\' outputs are {cells}')
        expect(all(c['state'] == 'done' and c['verdict'] == 'ok' and 'ok' in c['foot'] for c in cells),
               f'the cells\' verdicts: {cells}')
        expect(cells[0]['highlighted'] >= 1, f'the code in the cells is not highlighted: {cells[0]}')
        expect(not any(c['rolledBack'] for c in cells), f'a cell says it was rolled back: {cells}')
        # A verdict with rolledBack (a later protocol's member) says so in its cell.
        self.js("""
            const proto = window.PySandbox.SandboxClient.prototype;
            const receive = proto.receive;
            proto.receive = function (data) {
              const message = JSON.parse(data);
              if (message.result && message.result.status && String(message.id).startsWith('run-')) {
                message.result.rolledBack = true;
                proto.receive = receive;
                data = JSON.stringify(message);
              }
              return receive.call(this, data);
            };
        """)
        self.run_and_wait("b = 1\nraise ValueError('undone')")
        cells = self.cells()
        expect(len(cells) == 3 and cells[2]['rolledBack'] and 'Rolled back' in cells[2]['rolledBackText'],
               f'the rolled-back run\'s cell: {cells[-1]}')
        # Its traceback's line: the editor's while the editor holds the cell's code, else the cell's own.
        self.clear_editor()
        self.keys().send_keys('other = 1').perform()
        self.js("""
            const cells = document.querySelectorAll('[data-testid="cell"]');
            cells[cells.length - 1].querySelector('a[data-line="2"]').click();
        """)
        flashed = self.wait(lambda: self.js("""
            const cells = document.querySelectorAll('[data-testid="cell"]');
            const lines = [...cells[cells.length - 1].querySelectorAll('.cell-code-line')];
            const i = lines.findIndex((line) => line.classList.contains('is-flashing'));
            return i >= 0 ? lines[i].textContent : null;
        """), 'the cell\'s own line 2 to be shown')
        expect(flashed == "raise ValueError('undone')" and self.editor_value() == 'other = 1',
               f'the link showed {flashed!r}; the editor holds {self.editor_value()!r}')
        shot = self.shot('cells')
        self.find('clear').click()
        self.wait(lambda: self.cells() == [], 'Clear to empty the cells')
        expect(self.js('return document.querySelector(\'[data-testid="output"]\').textContent') == '',
               'the output holds something after Clear')
        third = self.run_and_wait('print(a * 2)')
        expect(third['output'] == '40\n' and len(self.cells()) == 1, f'after Clear the session kept a: {third}')
        # Keep variables off: one run's output, as before.
        self.driver.find_element('css selector', '.switch-label').click()
        plain = self.run_and_wait("print('plain')")
        expect(plain['output'] == 'plain\n' and self.cells() == [], f'with Keep variables off: {plain}, {self.cells()}')
        return (f'two runs left two cells with their code, output and verdict; rolledBack said "Rolled back" in '
                f'its cell; a traceback link showed the cell\'s own line once the editor held other code; Clear '
                f'emptied them and the session kept its variables; screenshot {shot}')

    def checks(self):
        return [
            ('1 page loads', self.check_page_loads),
            ('2 addons', self.check_addons),
            ('3 completion from the code', self.check_completion_from_code),
            ('4 completion from the session', self.check_completion_from_session),
            ('5 Shift+Tab help', self.check_inspect),
            ('6 cells', self.check_cells),
            ('7 console', self.check_console),
        ]


if __name__ == '__main__':
    sys.exit(main(AssistTest, __doc__))
