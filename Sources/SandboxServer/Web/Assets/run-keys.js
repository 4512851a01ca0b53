// Keys and focus during a run, as a terminal has them: the input line takes
// the focus when the program waits for input() (run/stdinWanted), typing
// with the output focused goes to the input line, and Ctrl+. (Cmd+. on a
// Mac) anywhere, or Ctrl+C in the output or the input line with nothing
// selected, stops the run. Loaded before editor.js.
'use strict';

(() => {
  const TEXT_INPUTS = new Set(['text', 'search', 'number', 'email', 'url', 'tel', 'password', '']);

  /** Whether `element` takes typed text (and so should keep the focus). */
  function takesText(element) {
    if (!element || element === document.body) return false;
    if (element.isContentEditable || element.tagName === 'TEXTAREA') return true;
    return element.tagName === 'INPUT' && TEXT_INPUTS.has(element.type);
  }

  /** Text selected in the page outside the form fields (a field's own selection is not the page's). */
  function pageSelection() {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed || selection.type !== 'Range') return '';
    const anchor = selection.anchorNode;
    const host = anchor && (anchor.nodeType === Node.ELEMENT_NODE ? anchor : anchor.parentElement);
    if (host && (takesText(host) || host.closest('.CodeMirror'))) return '';
    return selection.toString();
  }

  class RunKeys {
    /**
     * `output` and `stdin`: the output pane and the input line; `editor()`:
     * the code editor's element; `running()`: a run is in flight;
     * `stop()`: stops it.
     */
    constructor({output, stdin}, {editor, running, stop}) {
      Object.assign(this, {output, stdin, editor, running, stop});
      this.pointerDown = false;   // a mouse button is held: the user may be selecting
      document.addEventListener('pointerdown', () => { this.pointerDown = true; }, true);
      document.addEventListener('pointerup', () => { this.pointerDown = false; }, true);
      output.addEventListener('keydown', (event) => this.typedInOutput(event));
      document.addEventListener('keydown', (event) => this.stopKeys(event));
    }

    /**
     * The program waits for input: the input line takes the focus, unless the
     * user is selecting text or typing in another field (a limit, say). The
     * page does not scroll for it.
     */
    inputWanted() {
      if (this.stdin.disabled || document.activeElement === this.stdin) return false;
      if (this.pointerDown || pageSelection()) return false;
      const active = document.activeElement;
      const editor = this.editor();
      if (takesText(active) && !(editor && editor.contains(active))) return false;
      this.stdin.focus({preventScroll: true});
      return true;
    }

    /** A character typed with the output focused lands in the input line, at its caret. */
    typedInOutput(event) {
      if (this.stdin.disabled || event.defaultPrevented || event.isComposing) return;
      if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
      event.preventDefault();
      const {stdin} = this;
      stdin.focus({preventScroll: true});
      const start = stdin.selectionStart ?? stdin.value.length;
      const end = stdin.selectionEnd ?? start;
      stdin.setRangeText(event.key, start, end, 'end');
      stdin.dispatchEvent(new Event('input', {bubbles: true}));
    }

    /** Ctrl+. / Cmd+. anywhere; Ctrl+C in the output or input line when it copies nothing. */
    stopKeys(event) {
      if (!this.running() || event.defaultPrevented || event.altKey) return;
      const period = event.key === '.' || event.code === 'Period';
      if (period && (event.ctrlKey || event.metaKey) && !event.shiftKey) {
        event.preventDefault();
        this.stop();
        return;
      }
      if (!(event.key === 'c' || event.key === 'C') || !event.ctrlKey || event.metaKey || event.shiftKey) return;
      const target = event.target;
      const inOutput = target === this.output || this.output.contains(target);
      const inStdin = target === this.stdin;
      if (!inOutput && !inStdin) return;
      if (pageSelection()) return;   // copying
      if (inStdin && this.stdin.selectionStart !== this.stdin.selectionEnd) return;
      event.preventDefault();
      this.stop();
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {RunKeys});
})();
