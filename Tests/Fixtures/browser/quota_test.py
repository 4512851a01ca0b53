#!/usr/bin/python3
"""Drives the web editor against a tenant whose daily CPU quota runs out.

    python3 quota_test.py --url http://127.0.0.1:PORT/ --token TOKEN --screenshot /tmp/editor-quota.png

Uses editor_test.py's driver and helpers (same needs: Debian's python3-selenium,
/usr/bin/chromium, /usr/bin/chromedriver) and prints one `ok: ...` line per
check. The token's tenant has a quota of 1 CPU second a day: a run burns
1.2 s of CPU and ends ok; the next is refused, and the status line and the
cell say so in words: which quota, the local time it resets at, and how long
until then.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from editor_test import EditorTest, expect, main  # noqa: E402  (re-execs with Debian's python3)

BURN = 'import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.2: pass\nprint("burnt")'
SAID = re.compile(r'the daily CPU quota \(1 CPU seconds a day\) is used up; it resets at \d{1,2}:\d{2}.* \(midnight UTC\), in \d+ (s|min|h)')


class QuotaTest(EditorTest):
    def check_quota(self):
        done = self.run_and_wait(BURN)
        expect(done['verdict'] == 'ok' and done['output'] == 'burnt\n', f'the first run gave {done}')
        self.type_program("print('more')")
        self.find('run').click()
        snap = self.wait(lambda: (lambda s: s if s['state'] == 'refused' else None)(self.snapshot()), 'the refusal')
        text = snap['statusText']
        expect(SAID.search(text), f'the status line says {text!r}')
        expect('more' not in snap['output'], f'the code ran: {snap["output"]!r}')
        code = self.js('return document.querySelector(\'[data-testid="status"]\').dataset.errorCode')
        expect(code == '-32011', f'the status line\'s error code is {code!r}')
        os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
        expect(self.driver.save_screenshot(self.screenshot), 'the screenshot could not be saved')
        return f'the second run is refused: "{text}"'

    def checks(self):
        return [
            ('1 page loads', self.check_page_loads),
            ('2 quota in words', self.check_quota),
            ('console', self.check_console),
        ]


if __name__ == '__main__':
    sys.exit(main(QuotaTest, __doc__))
