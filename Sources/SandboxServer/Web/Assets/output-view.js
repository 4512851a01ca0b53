// The output pane: program output as it streams (stdout and stderr styled
// apart), what the user typed as stdin, and notes. Tracebacks in stderr
// (`File "main.py", line N`) become links to line N of the editor.
'use strict';

(() => {
  const TRACEBACK_LINE = /File "main\.py", line (\d+)/g;

  class OutputView {
    /** `onGoToLine(n)` is called when a traceback link is followed. */
    constructor(element, {onGoToLine}) {
      this.element = element;
      this.openTails = new Set();   // stderr spans whose last line is not complete yet
      this.queue = [];              // [kind, text] not shown yet; shown once per frame
      this.frame = null;
      element.addEventListener('click', (event) => {
        const link = event.target.closest('a[data-line]');
        if (!link || !element.contains(link)) return;
        event.preventDefault();
        onGoToLine(Number(link.dataset.line));
      });
    }

    clear() {
      this.queue = [];
      this.element.replaceChildren();
      this.openTails.clear();
      this.element.classList.remove('is-finished');
      this.element.scrollTop = 0;
    }

    /** Whether the view is scrolled to (nearly) the end, so it should follow new text. */
    atEnd() {
      const el = this.element;
      return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    }

    /** The span new text of `kind` goes into: the last one if it is of that kind. */
    spanFor(kind) {
      const last = this.element.lastElementChild;
      if (last && last.dataset.stream === kind && last === this.element.lastChild) return last;
      const span = document.createElement('span');
      span.className = `out-${kind}`;
      span.dataset.stream = kind;
      this.element.append(span);
      return span;
    }

    /** Appends program output of `stream` ('stdout' or 'stderr'). */
    write(stream, text) {
      this.enqueue(stream === 'stderr' ? 'stderr' : 'stdout', text);
    }

    /** Echoes what the user sent to the program's stdin. */
    echo(text) {
      this.enqueue('stdin', text);
    }

    /** A note from the page, not the program (e.g. "[EOF]"). */
    note(text) {
      this.enqueue('note', text);
    }

    /**
     * Output can arrive faster than it is worth laying out: text is queued
     * and added once per animation frame, with one look at the scroll position.
     */
    enqueue(kind, text) {
      const last = this.queue[this.queue.length - 1];
      if (last && last[0] === kind && kind !== 'note') last[1] += text;
      else this.queue.push([kind, text]);
      if (this.frame === null) this.frame = requestAnimationFrame(() => this.flush());
    }

    flush() {
      if (this.frame !== null) cancelAnimationFrame(this.frame);
      this.frame = null;
      if (!this.queue.length) return;
      const follow = this.atEnd();
      for (const [kind, text] of this.queue) {
        if (kind === 'stderr') this.writeStderr(text);
        else if (kind === 'note') this.addNote(text);
        else this.spanFor(kind).append(text);
      }
      this.queue = [];
      if (follow) this.element.scrollTop = this.element.scrollHeight;
    }

    /** Complete lines are linkified at once; a partial last line when it completes. */
    writeStderr(text) {
      const span = this.spanFor('stderr');
      let buffer = text;
      if (span.tail) {
        buffer = span.tail.data + text;
        span.tail.remove();
        span.tail = null;
      }
      const cut = buffer.lastIndexOf('\n') + 1;
      span.append(...linkify(buffer.slice(0, cut)));
      if (cut < buffer.length) {
        span.tail = document.createTextNode(buffer.slice(cut));
        span.append(span.tail);
        this.openTails.add(span);
      } else {
        this.openTails.delete(span);
      }
    }

    addNote(text) {
      const span = document.createElement('span');
      span.className = 'out-note';
      span.dataset.stream = 'note';
      span.textContent = text;
      this.element.append(span);
    }

    /** Whether the last thing shown (or queued) ends a line. */
    endsLine() {
      const queued = this.queue[this.queue.length - 1];
      const text = queued ? queued[1] : (this.element.lastChild ? this.element.lastChild.textContent : '');
      return text === '' || text.endsWith('\n');
    }

    /** The run is over: show what is queued, linkify partial last lines, mark the view finished. */
    finish() {
      this.flush();
      for (const span of this.openTails) {
        if (!span.tail) continue;
        const tail = span.tail;
        span.tail = null;
        tail.replaceWith(...linkify(tail.data));
      }
      this.openTails.clear();
      this.element.classList.add('is-finished');
    }
  }

  /** Text → nodes, with `File "main.py", line N` as links. */
  function linkify(text) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(TRACEBACK_LINE)) {
      if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
      const link = document.createElement('a');
      link.href = `#line-${match[1]}`;
      link.className = 'traceback-link';
      link.dataset.line = match[1];
      link.title = `Go to line ${match[1]} in the editor`;
      link.textContent = match[0];
      nodes.push(link);
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return nodes;
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {OutputView});
})();
