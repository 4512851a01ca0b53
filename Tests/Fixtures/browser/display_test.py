#!/usr/bin/python3
"""Drives the web editor's rich output in headless Chromium: displays and returned files.

    python3 display_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor-displays.png

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check. Checks that a matplotlib plot appears as an image between the lines
printed before and after it, that a pandas DataFrame is a table inside an
<iframe sandbox=""> (opaque origin, no script), that a returned file is a
download link to a blob: URL that saves the file, and that hostile displays
(<script>, onerror=, javascript: and target=_top links, a scripted SVG, a
50 MB image) change nothing outside their frames: the page's title, body,
globals and a marker element stay as they were, no alert opens, no window,
and the editor still runs programs. Screenshots: --screenshot after the plot
and table, NAME-hostile.png after the hostile displays.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import WIDE, CheckFailed, EditorTest, Keys, expect, main  # noqa: E402  (re-execs with Debian's python3)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

TALL = (1280, 1150)
RUN_WAIT = 90      # seconds for a run: test servers preload nothing, so matplotlib and pandas are imported in it

PLOT_AND_TABLE = """\
import matplotlib.pyplot as plt
import pandas
print('before the plot')
plt.plot([1, 3, 2])
plt.show()
print('after the plot')
display(pandas.DataFrame({'city': ['Oslo', 'Lima', 'Pune'], 'temp': [4.5, 19.0, 27.25]}))"""

# Every way out of a frame the issue names, and a few more: each must do nothing.
HOSTILE = r"""HTML = ('<script>parent.document.title = "pwned"; top.pwned = 1</script>'
        '<img src=x onerror="parent.document.body.innerHTML = \'pwned\'">'
        '<p id="frame-text">hostile html</p>'
        '<a id="js-link" href="javascript:parent.alert(1)">javascript: link</a> '
        '<a id="top-link" href="/?pwned=top" target="_top">top link</a> '
        '<a id="popup-link" href="/?pwned=popup" target="_blank">popup link</a>'
        '<iframe srcdoc="<script>top.document.title = \'pwned\'</script>"></iframe>')
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" onload="top.document.title = \'pwned\'">'
       '<script>top.alert("svg")</script><rect width="120" height="60" fill="teal"/></svg>')
print('hostile displays follow')
display({'text/plain': 'hostile html', 'text/html': HTML}, raw=True)
display({'text/plain': 'hostile svg', 'image/svg+xml': SVG}, raw=True)
print('hostile displays done')"""

# Far past the server's limits.maxDisplayBytes (4 MiB): never sent, the run ends with outputLimit.
BIG_DISPLAY = """\
print('a 50 MB image follows')
display({'text/plain': 'big', 'image/png': 'A' * 50_000_000}, raw=True)
print('not reached')"""

RETURN_FILES = """\
import csv
with open('out.csv', 'w', newline='') as f:
    csv.writer(f).writerows([['city', 'temp'], ['Oslo', 4.5]])
print('wrote out.csv')"""
RETURNED_CSV = b'city,temp\r\nOslo,4.5\r\n'


class DisplayTest(EditorTest):
    # ------------------------------------------------------------ helpers

    def set_program(self, source):
        """Puts `source` in the editor at once (typing is editor_test.py's concern)."""
        self.js("document.querySelector('.CodeMirror').CodeMirror.setValue(arguments[0])", source)
        self.wait(lambda: self.editor_value() == source, 'the editor to hold the program')

    def run_program(self, source):
        self.set_program(source)
        self.find('run').click()
        return self.wait(lambda: (lambda s: s if s['state'] == 'done' else None)(self.snapshot()),
                         'the verdict', timeout=RUN_WAIT)

    def output_pieces(self):
        """The output pane's blocks in order: text as it reads, a display as [display:MIME]."""
        return self.js("""
            return [...document.querySelector('[data-testid="output"]').children].map((el) =>
              el.dataset.stream === 'display' ? `[display:${el.dataset.mime}]` : el.textContent);
        """)

    def in_frame(self, frame, script):
        """Runs `script` inside `frame` (WebDriver may, the frame's own content may not)."""
        self.driver.switch_to.frame(frame)
        try:
            return self.js(script)
        finally:
            self.driver.switch_to.default_content()

    def set_field(self, testid, text):
        field = self.find(testid)
        field.click()
        actions = self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(Keys.DELETE)
        actions.send_keys(text, Keys.TAB).perform()
        return field.get_attribute('value')

    def page_state(self):
        """What a display must never change."""
        return self.js("""
            const marker = document.getElementById('test-marker');
            return {
              title: document.title,
              url: location.href,
              sameBody: document.body === window.testBody,
              marker: marker ? marker.textContent : null,
              // Less the frames' indices (window[0], …), which come and go with the output.
              globals: Object.getOwnPropertyNames(window).filter((name) => !/^\d+$/.test(name)).sort(),
              scripts: document.scripts.length,
              svgInPage: document.querySelectorAll('svg').length,
              toolbar: Boolean(document.querySelector('.toolbar [data-testid="run"]')),
            };
        """)

    def expect_unchanged(self, before, handles, when):
        """The page is as `before` (page_state()), with the windows `handles` and no alert."""
        self.expect_no_alert()
        expect(self.driver.window_handles == handles, f'{when}, windows opened: {self.driver.window_handles}')
        after = self.page_state()
        for key in ('title', 'url', 'sameBody', 'marker', 'scripts', 'svgInPage', 'toolbar'):
            expect(after[key] == before[key], f'{when}, the page\'s {key} changed: {before[key]!r} → {after[key]!r}')
        added = sorted(set(after['globals']) - set(before['globals']))
        removed = sorted(set(before['globals']) - set(after['globals']))
        expect(not added and not removed, f'{when}, window globals changed: added {added}, removed {removed}')

    def expect_no_alert(self):
        try:
            text = self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return
        raise CheckFailed(f'an alert is open: {text!r}')

    # ------------------------------------------------------------- checks

    def run_expecting(self, program, label, pieces):
        """Runs program to an ok verdict; its output must read as pieces, displays in place."""
        done = self.run_program(program)
        expect(done['verdict'] == 'ok', f'the {label} program gave {done}')
        shown = self.output_pieces()
        expect(shown == pieces, f'the output reads {shown}, not {pieces}')
        return done

    def check_plot_and_table(self):
        done = self.run_expecting(PLOT_AND_TABLE, 'plot and table',
                           ['before the plot\n', '[display:image/png]', 'after the plot\n', '[display:text/html]'])
        image = self.wait(lambda: self.js("""
            const img = document.querySelector('[data-testid="output"] [data-mime="image/png"] img');
            if (!img.complete || !img.naturalWidth) return null;
            return {src: img.src.slice(0, 22), width: img.naturalWidth, shown: img.getBoundingClientRect().width};
        """), 'the plot to be decoded')
        expect(image['src'] == 'data:image/png;base64,', f'the plot\'s src starts {image["src"]!r}')
        expect(image['shown'] > 200, f'the plot is shown {image["shown"]} px wide')
        frame = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="output"] [data-mime="text/html"] iframe')
        attrs = self.js("""
            const f = arguments[0];
            return {sandbox: f.getAttribute('sandbox'), tokens: f.sandbox.length, src: f.getAttribute('src'),
                    height: f.getBoundingClientRect().height};
        """, frame)
        expect(attrs['sandbox'] == '' and attrs['tokens'] == 0, f'the frame\'s sandbox attribute is {attrs["sandbox"]!r}')
        expect(attrs['src'] is None, f'the frame has a src {attrs["src"]!r}')
        expect(attrs['height'] >= 80, f'the frame is {attrs["height"]} px tall')
        inside = self.in_frame(frame, """
            let parentReadable = true;
            try { void parent.document.title; } catch (err) { parentReadable = false; }
            return {origin: window.origin, text: document.body.innerText, cells: document.querySelectorAll('table td').length,
                    parentReadable};
        """)
        for word in ('city', 'Oslo', 'Lima', 'Pune', '27.25'):
            expect(word in inside['text'], f'the frame\'s table lacks {word!r}: {inside["text"]!r}')
        expect(inside['cells'] == 6, f'the frame\'s table has {inside["cells"]} cells, not 6')
        expect(inside['origin'] == 'null', f'the frame\'s origin is {inside["origin"]!r}, not opaque')
        expect(not inside['parentReadable'], 'the frame can read the page')
        expect('Oslo' not in done['output'], 'the table\'s text is in the page itself, not only in its frame')
        # Tall enough for the plot and the table together, for people to look at.
        self.driver.set_window_size(*TALL)
        self.wait(lambda: self.js('return innerHeight') >= TALL[1] - 200, 'the window to become taller')
        self.js("document.querySelector('[data-testid=\"output\"]').scrollTop = 0")
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        saved = self.driver.save_screenshot(self.screenshot)
        self.driver.set_window_size(*WIDE)
        expect(saved, 'the screenshot could not be saved')
        return (f'plot ({image["width"]} px PNG) between "before" and "after", DataFrame table in an '
                f'<iframe sandbox=""> (origin null, parent unreadable); screenshot {self.screenshot}')

    def check_returned_files(self):
        field = self.find('return-files')
        expect(field.is_displayed(), 'the return files field is not shown')
        self.set_field('return-files', '*.csv, missing/*.txt')
        done = self.run_program(RETURN_FILES)
        expect(done['verdict'] == 'ok' and 'wrote out.csv' in done['output'], f'the file-writing program gave {done}')
        files = self.find('files')
        expect(files.is_displayed(), 'the returned files are not shown')
        link = files.find_element(By.CSS_SELECTOR, 'a[download]')
        expect(link.get_attribute('download') == 'out.csv', f'the link downloads {link.get_attribute("download")!r}')
        href = link.get_attribute('href')
        expect(href.startswith('blob:'), f'the link is {href!r}, not a blob: URL')
        expect(link.text == 'out.csv', f'the link reads {link.text!r}')
        omitted = files.find_element(By.CSS_SELECTOR, '[data-reason="noMatch"]').text
        expect('missing/*.txt' in omitted and 'matched no file' in omitted, f'the omitted line reads {omitted!r}')
        with tempfile.TemporaryDirectory(prefix='pysandbox-downloads-') as downloads:
            self.driver.execute_cdp_cmd('Browser.setDownloadBehavior', {'behavior': 'allow', 'downloadPath': downloads})
            link.click()
            saved = os.path.join(downloads, 'out.csv')
            self.wait(lambda: os.path.exists(saved) and open(saved, 'rb').read() == RETURNED_CSV,
                      f'{saved} to be downloaded with the file\'s bytes')
        cleared = self.set_field('return-files', '')
        expect(cleared == '', f'the return files field still holds {cleared!r}')
        return f'returnFiles *.csv: a download link to a blob: URL saved out.csv byte for byte; missing/*.txt "matched no file"'

    def check_hostile_displays(self):
        self.js("""
            const marker = document.createElement('div');
            marker.id = 'test-marker';
            marker.hidden = true;
            marker.textContent = 'untouched';
            document.body.append(marker);
            window.testBody = document.body;
        """)
        before = self.page_state()
        handles = self.driver.window_handles
        self.run_expecting(HOSTILE, 'hostile',
                           ['hostile displays follow\n', '[display:text/html]', '[display:image/svg+xml]', 'hostile displays done\n'])
        svg = self.wait(lambda: self.js("""
            const img = document.querySelector('[data-testid="output"] [data-mime="image/svg+xml"] img');
            return img && img.complete && img.naturalWidth ? {tag: img.tagName, width: img.naturalWidth} : null;
        """), 'the SVG image to be drawn')
        expect(svg['width'] == 120, f'the SVG image is {svg["width"]} px wide, not 120')
        frame = self.driver.find_element(By.CSS_SELECTOR, '[data-testid="output"] [data-mime="text/html"] iframe')
        expect(frame.get_attribute('sandbox') == '', f'the hostile frame\'s sandbox is {frame.get_attribute("sandbox")!r}')
        self.expect_unchanged(before, handles, 'after the hostile displays')
        # Follow every link in the frame, as a person would.
        for link in ('js-link', 'top-link', 'popup-link'):
            self.driver.switch_to.frame(frame)
            try:
                self.driver.find_element(By.ID, link).click()
            finally:
                self.driver.switch_to.default_content()
            self.expect_unchanged(before, handles, f'after a click on the frame\'s {link}')
        text = self.in_frame(frame, "return document.getElementById('frame-text').textContent")
        expect(text == 'hostile html', f'the frame reads {text!r} after its links were followed')
        after = self.page_state()
        base, ext = os.path.splitext(os.path.abspath(self.screenshot))
        hostile_png = f'{base}-hostile{ext}'
        expect(self.driver.save_screenshot(hostile_png), 'the screenshot could not be saved')
        return ('<script>, onerror=, javascript:/target=_top/_blank links (clicked), a nested frame and a scripted '
                f'SVG changed nothing: title {after["title"]!r}, body, marker, globals, windows, no alert; {hostile_png}')

    def check_big_display(self):
        before, handles = self.page_state(), self.driver.window_handles
        # At the default memory limit: a display past its limit is announced by its size, not copied.
        done = self.run_program(BIG_DISPLAY)
        expect(done['verdict'] == 'outputLimit', f'the 50 MB display gave {done}')
        expect('output limit' in done['statusText'], f'the status line reads {done["statusText"]!r}')
        expect(done['output'].startswith('a 50 MB image follows\n') and 'output limit reached' in done['output']
               and 'not reached' not in done['output'], f'the output reads {done["output"]!r}')
        pieces = self.output_pieces()
        expect(not any(p.startswith('[display:') for p in pieces), f'a display was shown: {pieces}')
        expect(not done['runDisabled'] and done['stopDisabled'], f'after the run the buttons are {done}')
        self.expect_unchanged(before, handles, 'after the 50 MB display')
        return f'a 50 MB image display: verdict outputLimit ({done["statusText"]}), nothing shown, page unchanged'

    def check_runs_after(self):
        done = self.run_program('print(6*7)')
        expect(done['verdict'] == 'ok' and done['output'] == '42\n', f'a normal run afterwards gave {done}')
        self.expect_no_alert()
        expect(self.js('return document.title') == 'PySandbox', 'the title changed')
        return 'after all that the editor still runs a program: 42'

    def checks(self):
        return [
            ('1 page loads', self.check_page_loads),
            ('2 plot and table', self.check_plot_and_table),
            ('3 returned files', self.check_returned_files),
            ('4 hostile displays', self.check_hostile_displays),
            ('5 a 50 MB display', self.check_big_display),
            ('6 runs afterwards', self.check_runs_after),
            ('7 console', self.check_console),
        ]


if __name__ == '__main__':
    sys.exit(main(DisplayTest, __doc__))
