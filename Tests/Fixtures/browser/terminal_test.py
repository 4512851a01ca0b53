#!/usr/bin/python3
"""Drives the web editor as a terminal in headless Chromium.

    python3 terminal_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor-terminal.png

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check. Checks that ANSI SGR escapes (16, 256 and 24-bit colours, bold, dim,
italic, underline) render as styled spans and every other escape is dropped,
never shown raw, also when a sequence is split across two run/output messages
(one parser state per stream); that `\\r` rewrites the line (a tqdm-style bar
on stderr is one line, in its final state), `\\r\\n` is a newline and ESC[K
erases; that 100,000 coloured lines all arrive; that the input line takes the
focus when the program waits for input() (run/stdinWanted), not while the user
selects text, and that typing with the output focused goes there; that files
chosen with the file chooser (a text file and a binary one) reach the program
byte for byte, can be removed, and that too large a file and `main.py` are
refused with a message; that the output limit field ends a run with
outputLimit and is remembered; that Ctrl+. and Ctrl+C in the output stop a run
(and Ctrl+C with text selected does not); and the status line's memory
figures. Screenshot (--screenshot): a tqdm-style bar and coloured output.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import CheckFailed, EditorTest, Keys, expect, main  # noqa: E402  (re-execs with Debian's python3)

from selenium.webdriver.common.by import By  # noqa: E402

ESC = '\x1b'

COLOURS = r"""print("\x1b[1;32mOK\x1b[0m plain \x1b[31mred\x1b[0m \x1b[38;5;208morange\x1b[0m "
      "\x1b[38;2;10;120;200mtrue\x1b[0m \x1b[44mbluebg\x1b[0m \x1b[2mdim\x1b[22m \x1b[3mital\x1b[23m "
      "\x1b[4munder\x1b[24m \x1b[91mbright\x1b[39m")
print("\x1b[?25lcursor\x1b[A\x1b[2J\x1b]0;a title\x07 gone\x1b(B\x1b[5G\x1b7 end\x1b[?25h")"""

# Each stream keeps its own parser state: stdout's half sequence waits while stderr writes.
SPLIT = r"""import sys, time
sys.stdout.write("out \x1b[3"); sys.stdout.flush(); time.sleep(0.4)
sys.stderr.write("err \x1b[1mbold\x1b[0m\n"); sys.stderr.flush(); time.sleep(0.4)
sys.stdout.write("2mgreen\x1b[0m\n")"""

PROGRESS = r"""import sys, time
for i in range(101):
    bar = '#' * (i // 5) + ' ' * (20 - i // 5)
    print(f"\r{i:3d}%|{bar}| {i}/100", end="", file=sys.stderr, flush=True)
    time.sleep(0.01)
print(file=sys.stderr)
time.sleep(0.3)   # stdout and stderr are two pipes: let the server read the bar's end first
sys.stdout.write("a\r\nb\r\n")
print("old text\r\x1b[Knew")
print("kept\x1b[2K", end="")
print("after erase")"""
PROGRESS_OUTPUT = '100%|####################| 100/100\na\nb\nnew\nafter erase\n'

BIG = r"""for i in range(100000):
    print(f"\x1b[3{i % 8}mline {i}\x1b[0m")"""

SCREENSHOT = r"""import sys, time
print("\x1b[1mTraining\x1b[0m a tiny model", flush=True)
time.sleep(0.1)
for epoch in range(1, 4):
    for i in range(0, 101, 4):
        n = i // 4
        bar = '█' * n + ' ' * (25 - n)
        print(f"\repoch {epoch}: {i:3d}%|{bar}| {i}/100 [00:0{epoch}<00:00, 42.0it/s]", end="", file=sys.stderr, flush=True)
        time.sleep(0.004)
    print(file=sys.stderr)
    time.sleep(0.1)   # two pipes: the bar's end first
    print(f"  loss \x1b[33m{1 / epoch:.3f}\x1b[0m  accuracy \x1b[32m{0.7 + epoch / 10:.2f}\x1b[0m", flush=True)
    time.sleep(0.1)
print("\x1b[1;32m✔ done\x1b[0m  \x1b[2m(a dim note)\x1b[0m  \x1b[3;4mitalic, underlined\x1b[0m  \x1b[7m inverse \x1b[0m")
print("\x1b[31mred\x1b[0m \x1b[32mgreen\x1b[0m \x1b[33myellow\x1b[0m \x1b[34mblue\x1b[0m \x1b[35mmagenta\x1b[0m "
      "\x1b[36mcyan\x1b[0m \x1b[91mbright red\x1b[0m \x1b[94mbright blue\x1b[0m \x1b[30;47mblack on white\x1b[0m")
print("".join(f"\x1b[48;5;{c}m \x1b[0m" for c in range(16, 232, 4)))
print("".join(f"\x1b[38;2;{r};{255 - r};200m█" for r in range(0, 256, 6)) + "\x1b[0m")
sys.stdout.flush(); time.sleep(0.1)
print("\x1b[1;31mAn error on stderr, in bold red\x1b[0m", file=sys.stderr)"""

INPUTS = """first = input('first? ')
second = input('second? ')
print('got', first, 'and', second)"""

SELECTING = """import time
print('select me')
time.sleep(1.5)
answer = input('more? ')
print('answer', answer)"""

FILES = """for name in ('data.txt', 'blob.bin'):
    print(name, open(name, 'rb').read().hex())"""

LOOP = """import time
n = 0
while True:
    n += 1
    print('tick', n, flush=True)
    time.sleep(0.2)"""

TEXT_BYTES = 'héllo, wörld\n\ttabs and “quotes”\n'.encode()
BINARY_BYTES = bytes(range(256)) + b'\xff\xfe\x00\x80 not utf-8'


class TerminalTest(EditorTest):
    # ------------------------------------------------------------ helpers

    def set_program(self, source):
        """Puts `source` in the editor at once (typing is editor_test.py's concern)."""
        self.js("document.querySelector('.CodeMirror').CodeMirror.setValue(arguments[0])", source)
        self.wait(lambda: self.editor_value() == source, 'the editor to hold the program')

    def run_program(self, source, timeout=30):
        self.set_program(source)
        self.find('run').click()
        return self.wait(lambda: (lambda s: s if s['state'] == 'done' else None)(self.snapshot()),
                         'the verdict', timeout=timeout)

    def record_frames(self):
        """From now on, what the page sends is kept in window.sentFrames."""
        self.js("""
            if (!window.sentFrames) {
              window.sentFrames = [];
              const send = WebSocket.prototype.send;
              WebSocket.prototype.send = function (data) { window.sentFrames.push(String(data)); return send.call(this, data); };
            }
        """)

    def last_run_sent(self):
        import json
        frames = [json.loads(f) for f in self.js('return window.sentFrames || []')]
        runs = [f for f in frames if f.get('method') == 'run']
        expect(runs, 'the page sent no run')
        return runs[-1]['params']

    def span_styles(self):
        """Every styled span of the output: its text, classes and computed style."""
        return self.js("""
            return [...document.querySelectorAll('[data-testid="output"] span.ansi')].map((el) => {
              const s = getComputedStyle(el);
              return {text: el.textContent, cls: el.className, color: s.color, background: s.backgroundColor,
                      weight: s.fontWeight, fontStyle: s.fontStyle, decoration: s.textDecorationLine,
                      opacity: s.opacity, stream: el.parentElement.dataset.stream};
            });
        """)

    def active(self):
        return self.js("""
            const el = document.activeElement;
            return el ? (el.dataset.testid || el.id || el.tagName) : null;
        """)

    def set_field(self, testid, text):
        field = self.find(testid)
        field.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(Keys.DELETE) \
            .send_keys(text, Keys.TAB).perform()
        return field.get_attribute('value')

    def info(self):
        return self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/info', {cache: 'no-store'}).then((r) => r.json()).then(done, (err) => done({error: String(err)}));
        """)

    # ------------------------------------------------------------- checks

    def check_colours(self):
        done = self.run_program(COLOURS)
        expect(done['verdict'] == 'ok', f'the colour program gave {done}')
        out = done['output']
        expect(ESC not in out, f'a raw ESC is in the output: {out!r}')
        expect(out == 'OK plain red orange true bluebg dim ital under bright\ncursor gone end\n',
               f'the output reads {out!r}')
        spans = {s['text']: s for s in self.span_styles()}
        normal = self.js("return getComputedStyle(document.querySelector('[data-testid=\"output\"]')).color")
        ok = spans.get('OK')
        expect(ok and 'ansi-bold' in ok['cls'] and 'ansi-fg-2' in ok['cls'] and int(ok['weight']) >= 700
               and ok['color'] != normal, f'"OK" is not bold green: {ok}')
        expect(spans.get('red') and spans['red']['color'] != normal, f'"red" is not coloured: {spans.get("red")}')
        expect(spans.get('orange', {}).get('color') == 'rgb(255, 135, 0)', f'256-colour 208: {spans.get("orange")}')
        expect(spans.get('true', {}).get('color') == 'rgb(10, 120, 200)', f'24-bit colour: {spans.get("true")}')
        expect(spans.get('bluebg', {}).get('background') not in (None, 'rgba(0, 0, 0, 0)'),
               f'background 44: {spans.get("bluebg")}')
        expect(float(spans.get('dim', {}).get('opacity', 1)) < 1, f'dim: {spans.get("dim")}')
        expect(spans.get('ital', {}).get('fontStyle') == 'italic', f'italic: {spans.get("ital")}')
        expect('underline' in spans.get('under', {}).get('decoration', ''), f'underline: {spans.get("under")}')
        expect('ansi-fg-9' in spans.get('bright', {}).get('cls', ''), f'bright red (91): {spans.get("bright")}')
        plain = [s for s in spans if 'plain' in s or 'cursor' in s]
        expect(not plain, f'text after a reset is still styled: {plain}')
        return ('bold green, red, 256-colour orange, 24-bit, background, dim, italic, underline and bright red are '
                'styled spans; cursor moves, clear screen, a title, a charset and private modes are dropped; no ESC shown')

    def check_split_escapes(self):
        self.set_program(SPLIT)
        self.find('run').click()
        early = self.wait(lambda: (lambda s: s if 'err' in s['output'] else None)(self.snapshot()),
                          'the stderr line while stdout holds half an escape sequence')
        expect(early['state'] == 'running', f'"err" appeared only with the verdict: {early}')
        expect(ESC not in early['output'] and '[3' not in early['output'],
               f'half an escape sequence shows while the rest has not come: {early["output"]!r}')
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok' and done['output'] == 'out err bold\ngreen\n', f'the split program gave {done}')
        spans = {s['text']: s for s in self.span_styles()}
        expect('ansi-fg-2' in spans.get('green', {}).get('cls', '') and spans['green']['stream'] == 'stdout',
               f'"green" (ESC[3 + 2m across two messages) is not green stdout: {spans.get("green")}')
        expect('ansi-bold' in spans.get('bold', {}).get('cls', '') and spans['bold']['stream'] == 'stderr',
               f'"bold" on stderr is not bold: {spans.get("bold")}')
        return ('ESC[3 … 2m split across messages, with stderr written between: green stdout, bold stderr, '
                'nothing raw shown meanwhile')

    def check_progress_bar(self):
        self.set_program(PROGRESS)
        self.find('run').click()
        seen = set()
        while self.snapshot()['state'] != 'done':
            out = self.snapshot()['output']
            bars = out.count('%|')
            expect(bars <= 1, f'the progress bar shows {bars} times while running: {out!r}')
            if bars:
                seen.add(out)
            time.sleep(0.03)
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok', f'the progress program gave {done}')
        expect(done['output'] == PROGRESS_OUTPUT, f'the output reads {done["output"]!r}, not {PROGRESS_OUTPUT!r}')
        expect(len(seen) >= 2, f'the bar was seen in {len(seen)} states while running, not updating in place')
        return (f'a \\r progress bar on stderr stayed one line ({len(seen)} states seen while running), '
                'final state 100/100; \\r\\n is a newline, \\r ESC[K and ESC[2K erase the line')

    def check_big_output(self):
        info = self.info()
        maximum = info['limits']['maxOutputBytes']['max']
        expect(maximum >= 2_000_000, f'the server allows only {maximum} bytes of output')
        self.set_field('output-limit', str(maximum // 1024))
        started = time.monotonic()
        done = self.run_program(BIG, timeout=120)
        elapsed = time.monotonic() - started
        expect(done['verdict'] == 'ok', f'100,000 lines gave {done["verdict"]}: {done["statusText"]}')
        lines = done['output'].split('\n')
        expect(len(lines) == 100001 and lines[-2] == 'line 99999' and lines[0] == 'line 0',
               f'{len(lines) - 1} lines shown, last {lines[-2:]!r}')
        expect(ESC not in done['output'], 'a raw ESC is in the output')
        # Every line's text is coloured (a line cut between two messages is two spans of the same colour).
        coloured = self.js("""
            const spans = [...document.querySelectorAll('[data-testid="output"] span.ansi')];
            const wanted = Array.from({length: 100000}, (_, i) => `line ${i}`).join('');
            const colours = new Set(spans.map((el) => el.className));
            return {same: spans.map((el) => el.textContent).join('') === wanted, colours: colours.size};
        """)
        expect(coloured['same'] and coloured['colours'] == 8, f'the coloured spans do not hold every line: {coloured}')
        self.set_field('output-limit', str(info['limits']['maxOutputBytes']['default'] // 1024))
        return f'100,000 coloured lines all shown as styled spans ({elapsed:.1f} s from Run to the verdict)'

    def check_input_focus(self):
        # Run from the editor: the focus is in the code when the program asks.
        self.set_program(INPUTS)
        self.find('editor').click()
        scroll = self.js('return [window.scrollX, window.scrollY]')
        self.keys().key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        self.wait(lambda: 'first? ' in self.snapshot()['output'], 'the prompt "first? "')
        self.wait(lambda: self.active() == 'stdin',
                  f'the input line to take the focus at input() (run/stdinWanted); the focus is on {self.active()!r}')
        expect(self.js('return [window.scrollX, window.scrollY]') == scroll, 'the page scrolled to the input line')
        self.keys().send_keys('Ada', Keys.ENTER).perform()
        self.wait(lambda: 'second? ' in self.snapshot()['output'], 'the prompt "second? "')
        # Typing with the output focused goes to the input line, character and all.
        self.find('output').click()
        self.wait(lambda: self.active() in ('output', 'stdin'), 'the output or the input line to have the focus')
        self.js("document.querySelector('[data-testid=\"output\"]').focus()")
        self.keys().send_keys('Lovelace', Keys.ENTER).perform()
        done = self.wait_verdict()
        expect(done['verdict'] == 'ok', f'the input program gave {done}')
        expect('got Ada and Lovelace' in done['output'], f'the answers did not reach the program: {done["output"]!r}')
        expect(self.editor_value() == INPUTS, f'the answer was typed into the code: {self.editor_value()!r}')
        return ('at input() the focus moved from the code to the input line (page not scrolled); typing with the '
                'output focused went to the input line: "got Ada and Lovelace"')

    def check_input_focus_spares_selection(self):
        self.set_program(SELECTING)
        self.find('run').click()
        self.wait(lambda: 'select me' in self.snapshot()['output'], '"select me"')
        self.js("""
            const out = document.querySelector('[data-testid="output"]');
            out.focus();
            getSelection().selectAllChildren(out);
        """)
        self.wait(lambda: 'more? ' in self.snapshot()['output'], 'the prompt "more? "')
        time.sleep(0.5)
        expect(self.active() != 'stdin', 'the input line took the focus while text in the output was selected')
        expect('select me' in self.js('return getSelection().toString()'), 'the selection was lost')
        self.js('getSelection().removeAllRanges()')
        self.find('stdin').click()
        self.keys().send_keys('yes', Keys.ENTER).perform()
        done = self.wait_verdict()
        expect('answer yes' in done['output'], f'the answer did not reach the program: {done}')
        return 'with output text selected, the prompt left the focus and the selection alone'

    def attach(self, *paths):
        self.find('attach-input').send_keys('\n'.join(paths))

    def attached_names(self):
        return self.js("""
            return [...document.querySelectorAll('[data-testid="attached"] [data-name]')].map((el) => el.dataset.name);
        """)

    def check_files(self):
        info = self.info()
        folder = tempfile.mkdtemp(prefix='pysandbox-files-')
        text_path = os.path.join(folder, 'data.txt')
        binary_path = os.path.join(folder, 'blob.bin')
        with open(text_path, 'wb') as f:
            f.write(TEXT_BYTES)
        with open(binary_path, 'wb') as f:
            f.write(BINARY_BYTES)
        self.record_frames()
        self.attach(text_path, binary_path)
        self.wait(lambda: self.attached_names() == ['data.txt', 'blob.bin'], 'both files listed as attached')
        listed = self.find('attached').text
        expect('binary' in listed, f'the list does not say blob.bin is binary: {listed!r}')
        done = self.run_program(FILES)
        expect(done['verdict'] == 'ok', f'the files program gave {done}')
        expected = f'data.txt {TEXT_BYTES.hex()}\nblob.bin {BINARY_BYTES.hex()}\n'
        expect(done['output'] == expected, f'the program read {done["output"]!r}, not {expected!r}')
        sent = self.last_run_sent().get('files', {})
        expect(sent.get('data.txt') == TEXT_BYTES.decode(), f'data.txt was not sent as text: {sent.get("data.txt")!r}')
        expect(isinstance(sent.get('blob.bin'), dict) and 'base64' in sent['blob.bin'],
               f'blob.bin was not sent as base64: {str(sent.get("blob.bin"))[:80]}')
        # Removed: the next run has no blob.bin.
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="attached"] button[data-remove="blob.bin"]').click()
        self.wait(lambda: self.attached_names() == ['data.txt'], 'blob.bin to leave the list')
        done = self.run_program("import os\nprint(sorted(n for n in os.listdir('.') if n != 'main.py'))")
        expect(done['output'] == "['data.txt']\n", f'after removing blob.bin the run has {done["output"]!r}')
        # Too large for one message, and main.py: refused, with why.
        big_path = os.path.join(folder, 'big.bin')
        with open(big_path, 'wb') as f:
            f.write(b'\x00' * (info['limits']['maxMessageBytes'] + 1))
        main_path = os.path.join(folder, 'main.py')
        with open(main_path, 'w') as f:
            f.write('print(1)\n')
        self.attach(big_path, main_path)
        message = self.wait(lambda: self.find('attach-message').text, 'a message about the refused files')
        expect('big.bin' in message and 'base64' in message and 'limit' in message and 'main.py' in message,
               f'the message does not say why big.bin and main.py were not attached: {message!r}')
        expect(self.attached_names() == ['data.txt'], f'refused files were attached: {self.attached_names()}')
        self.driver.find_element(By.CSS_SELECTOR, '[data-testid="attached"] button[data-remove="data.txt"]').click()
        self.wait(lambda: self.attached_names() == [], 'the list to be empty')
        return ('a text file and a binary file chosen together reached the program byte for byte (text as text, '
                f'binary as base64); removing one left it out; too large a file and main.py refused: {message!r}')

    def check_output_limit(self):
        info = self.info()
        limit = info['limits']['maxOutputBytes']
        field = self.find('output-limit')
        expect(int(field.get_attribute('max')) == limit['max'] // 1024,
               f'the field allows up to {field.get_attribute("max")} KiB, the server {limit["max"]} bytes')
        clamped = self.set_field('output-limit', '99999999')
        expect(int(clamped) * 1024 == limit['max'], f'99999999 KiB became {clamped!r}, not the maximum')
        self.record_frames()
        self.set_field('output-limit', '1')
        done = self.run_program("print('x' * 5000)")
        expect(done['verdict'] == 'outputLimit', f'5000 bytes under a 1 KiB limit gave {done["verdict"]!r}; {done}')
        expect(self.last_run_sent().get('maxOutputBytes') == 1024, f'the run sent {self.last_run_sent()}')
        self.driver.refresh()
        self.wait_ready()
        expect(self.find('output-limit').get_attribute('value') == '1', 'the output limit was not remembered')
        self.set_field('output-limit', str(limit['default'] // 1024))
        done = self.run_program("print('x' * 5000)")
        expect(done['verdict'] == 'ok', f'back at the default the run gave {done["verdict"]!r}')
        return f'output limit field: 1 KiB sent as maxOutputBytes 1024, the run ended outputLimit; bounded by {limit["max"]}; remembered'

    def start_loop(self):
        self.set_program(LOOP)
        self.find('run').click()
        self.wait(lambda: 'tick 2' in self.snapshot()['output'], 'the loop to print')

    def check_stop_keys(self):
        self.start_loop()
        self.find('editor').click()
        self.keys().key_down(Keys.CONTROL).send_keys('.').key_up(Keys.CONTROL).perform()
        done = self.wait_verdict('the run to stop on Ctrl+.')
        expect(done['verdict'] == 'cancelled', f'Ctrl+. gave {done["verdict"]!r}')
        expect(self.editor_value() == LOOP, 'Ctrl+. changed the code')
        title = self.find('stop').get_attribute('title')
        expect('Ctrl+.' in title and 'Ctrl+C' in title, f'the Stop button does not name its shortcuts: {title!r}')
        # Ctrl+C in the output: copies when text is selected, stops when not.
        self.start_loop()
        self.js("""
            const out = document.querySelector('[data-testid="output"]');
            out.focus();
            getSelection().selectAllChildren(out.firstElementChild);
        """)
        self.keys().key_down(Keys.CONTROL).send_keys('c').key_up(Keys.CONTROL).perform()
        time.sleep(0.6)
        expect(self.snapshot()['state'] == 'running', 'Ctrl+C with text selected stopped the run instead of copying')
        self.js("getSelection().removeAllRanges(); document.querySelector('[data-testid=\"output\"]').focus()")
        self.keys().key_down(Keys.CONTROL).send_keys('c').key_up(Keys.CONTROL).perform()
        done = self.wait_verdict('the run to stop on Ctrl+C in the output')
        expect(done['verdict'] == 'cancelled', f'Ctrl+C in the output gave {done["verdict"]!r}')
        return f'Ctrl+. in the editor and Ctrl+C in the output (nothing selected) stop a run; Stop says so ({title!r})'

    def check_memory_figures(self):
        cgroups = self.info()['capabilities']['cgroups']
        done = self.run_program("x = bytearray(8 << 20)\nprint(len(x))")
        text = done['statusText']
        expect('max RSS' in text, f'the status line lacks "max RSS": {text!r}')
        expect(('peak memory' in text) == cgroups, f'"peak memory" {"missing" if cgroups else "shown"} with cgroups {cgroups}: {text!r}')
        title = self.find('status').get_attribute('title')
        expect('peak memory' in title and 'max RSS' in title, f'the status tooltip does not explain both: {title!r}')
        return f'status line: {text!r}'

    def check_screenshot(self):
        done = self.run_program(SCREENSHOT)
        expect(done['verdict'] == 'ok', f'the screenshot program gave {done}')
        bars = [line for line in done['output'].split('\n') if '%|' in line]
        expect(len(bars) == 3 and all('100/100' in bar for bar in bars), f'bars shown: {bars}')
        expect(ESC not in done['output'], 'a raw ESC is in the output')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        return f'three tqdm-style bars, one line each, and coloured output; screenshot saved to {self.screenshot}'

    def checks(self):
        return [
            ('1 page loads', self.check_page_loads),
            ('2 ANSI colours', self.check_colours),
            ('3 split escapes', self.check_split_escapes),
            ('4 \\r progress bar', self.check_progress_bar),
            ('5 100,000 lines', self.check_big_output),
            ('6 files', self.check_files),
            ('7 output limit', self.check_output_limit),
            ('8 stop shortcuts', self.check_stop_keys),
            ('9 memory figures', self.check_memory_figures),
            ('10 screenshot', self.check_screenshot),
            ('11 input focus', self.check_input_focus),
            ('12 selection keeps focus', self.check_input_focus_spares_selection),
            ('13 console', self.check_console),
        ]


if __name__ == '__main__':
    sys.exit(main(TerminalTest, __doc__))
