#!/usr/bin/python3
"""Drives the web editor's "Packages" field in headless Chromium.

    python3 package_test.py --url http://127.0.0.1:PORT/ --screenshot /tmp/editor-packages.png
    python3 package_test.py --url ... --screenshot ... --expect-no-packages

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check. The server's packages come from the wheels the Swift tests build
(tinytop on tinyleaf 1.0/2.0). By default: the field is typed into, a run
imports tinytop (the status line said "Installing packages…" first), the
field is remembered across a reload; a package the server cannot provide
is shown in the output area with its reason and requirement; with Keep
variables the session is opened with the packages, and changing the field
opens a new session with the new set. --expect-no-packages (a server with
packages off): the field is disabled, with a title saying why, and runs work.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import EditorTest, Keys, expect, main  # noqa: E402  (re-execs with Debian's python3)

CODE = 'import tinytop\nprint(tinytop.DESCRIPTION)'


class PackageTest(EditorTest):
    no_packages = False   # set from the command line below

    # ------------------------------------------------------------ helpers

    def set_packages(self, text):
        field = self.find('packages')
        field.click()
        self.keys().key_down(Keys.CONTROL).send_keys('a').key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
        field.send_keys(text)
        self.wait(lambda: field.get_attribute('value') == text, f'the Packages field to hold {text!r}')

    def record_states(self):
        """From now on, every state the status line takes is kept in window.statusStates."""
        self.js("""
            window.statusStates = [];
            const status = document.querySelector('[data-testid="status"]');
            if (window.statusObserver) window.statusObserver.disconnect();
            window.statusObserver = new MutationObserver(() => window.statusStates.push(
              status.dataset.state + ':' + status.textContent.replace(/\\s+/g, ' ').trim()));
            window.statusObserver.observe(status, {attributes: true, childList: true, subtree: true, characterData: true});
        """)

    def states(self):
        return self.js('return window.statusStates || []')

    def session_line(self):
        return self.js('return document.querySelector(\'[data-testid="session-line"]\').textContent')

    # ------------------------------------------------------------- checks

    def check_field(self):
        field = self.find('packages')
        self.wait(lambda: self.js('return document.getElementById("packages-field").dataset.state') == 'offered',
                  'the Packages field to be offered')
        expect(field.is_enabled(), 'the Packages field is disabled on a server with packages')
        label = self.js("return arguments[0].labels[0].textContent.replace(/\\s+/g, ' ').trim()", field)
        expect(label == 'Packages', f'the field is labelled {label!r}')
        title = field.get_attribute('title') or ''
        expect('PyPI' in title and 'once' in title, f'the field\'s title is {title!r}')
        return f'a field labelled Packages, enabled, titled "{title[:60]}…"'

    def check_run_with_packages(self):
        self.set_packages('tinytop')
        self.type_program(CODE)
        self.record_states()
        self.find('run').click()
        done = self.wait_verdict('the verdict of a run with tinytop')
        expect(done['verdict'] == 'ok' and done['output'] == 'top on leaf 2.0\n', f'the run gave {done}')
        states = self.states()
        installing = [s for s in states if s.startswith('installing:')]
        expect(installing and 'Installing packages…' in installing[0] and 'tinytop' in installing[0],
               f'the status line never said it was installing: {states}')
        expect(states.index(installing[0]) < max(i for i, s in enumerate(states) if s.startswith('running')),
               f'installing came after running: {states}')
        return f'packages "tinytop": the status line said "{installing[0].split(":", 1)[1]}", then the run printed top on leaf 2.0'

    def check_reload(self):
        self.driver.refresh()
        self.wait_ready()
        value = self.find('packages').get_attribute('value')
        expect(value == 'tinytop', f'after a reload the Packages field holds {value!r}')
        expect(self.editor_value() == CODE, f'after a reload the editor holds {self.editor_value()!r}')
        self.record_states()
        self.find('run').click()
        done = self.wait_verdict('the verdict after the reload')
        expect(done['verdict'] == 'ok' and done['output'] == 'top on leaf 2.0\n', f'the run gave {done}')
        expect(not any(s.startswith('installing') for s in self.states()), f'installed again: {self.states()}')
        return 'after a reload the field still holds "tinytop", and the set (installed already) is not installed again'

    def check_refusal(self):
        self.set_packages('nosuchpackage')
        self.type_program("print('ran')")
        self.find('run').click()
        snap = self.wait(lambda: (lambda s: s if s['state'] == 'refused' else None)(self.snapshot()),
                         'the refusal of nosuchpackage')
        out = snap['output']
        expect('ran\n' not in out and out.startswith('Not run'), f'the code ran: {out!r}')
        expect('Packages unavailable' in out and 'reason: unknownPackage' in out and 'requirement: nosuchpackage' in out,
               f'the output area says {out!r}')
        expect('packages unavailable' in snap['statusText'] and 'nosuchpackage' in snap['statusText'],
               f'the status line says {snap["statusText"]!r}')
        reason = self.js('return document.querySelector(\'[data-testid="status"]\').dataset.reason')
        expect(reason == 'unknownPackage', f'the status line\'s reason is {reason!r}')
        return f'nosuchpackage: the output area says {out.strip().splitlines()[-2:]}; status "{snap["statusText"]}"'

    def check_session(self):
        self.wait(lambda: self.js('return !document.getElementById("session-controls").hidden'),
                  'the Keep variables toggle to be shown')
        self.driver.find_element('css selector', '.switch-label').click()
        self.wait(lambda: self.js('return document.querySelector(\'[data-testid="keep-variables"]\').checked'),
                  'Keep variables to be on')
        self.set_packages('tinytop')
        first = self.run_and_wait('import tinytop')
        expect(first['verdict'] == 'ok', f'import tinytop in a session gave {first}')
        second = self.run_and_wait('print(tinytop.DESCRIPTION)')
        expect(second['verdict'] == 'ok' and second['output'] == 'top on leaf 2.0\n', f'the next run gave {second}')
        line = self.session_line()
        expect('packages tinytop' in line, f'the session line says {line!r}')
        # Another set: a new session, opened with it, and the page says so.
        self.set_packages('tinytop, tinyleaf < 2')
        changed = self.run_and_wait("print('tinytop' in globals())\n" + CODE)
        expect(changed['verdict'] == 'ok' and changed['output'] == 'False\ntop on leaf 1.0\n', f'after the change: {changed}')
        line = self.session_line()
        expect('New session for the changed packages' in line and 'tinyleaf<2' in line, f'the session line says {line!r}')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        self.driver.find_element('css selector', '.switch-label').click()
        return f'Keep variables: the session imports tinytop; a changed field opened a new session ("{line}")'

    def check_not_offered(self):
        field = self.find('packages')
        self.wait(lambda: self.js('return document.getElementById("packages-field").dataset.state') == 'off',
                  'the Packages field to be off')
        expect(not field.is_enabled(), 'the Packages field is enabled on a server without packages')
        title = field.get_attribute('title') or ''
        expect('installs no packages' in title, f'the disabled field\'s title is {title!r}')
        # A value left from another server is not sent.
        self.js("document.getElementById('packages').value = 'tinytop'")
        done = self.run_and_wait("print('ran')")
        expect(done['verdict'] == 'ok' and done['output'] == 'ran\n', f'a run gave {done}')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        return f'packages off: the field is disabled, titled "{title}"; runs work'

    def checks(self):
        first = [('1 page loads', self.check_page_loads)]
        last = [('console', self.check_console)]
        if self.no_packages:
            return first + [('2 not offered', self.check_not_offered)] + last
        return first + [
            ('2 field', self.check_field),
            ('3 run with packages', self.check_run_with_packages),
            ('4 remembered across a reload', self.check_reload),
            ('5 refusal in the output area', self.check_refusal),
            ('6 session with packages', self.check_session),
        ] + last


if __name__ == '__main__':
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--expect-no-packages', action='store_true')
    known, rest = parser.parse_known_args()
    PackageTest.no_packages = known.expect_no_packages
    sys.argv = [sys.argv[0], *rest]
    sys.exit(main(PackageTest, __doc__))
