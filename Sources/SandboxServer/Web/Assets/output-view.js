// The output pane: program output as it streams (stdout and stderr styled
// apart), the program's displays (plots, tables) where it made them, what the
// user typed as stdin, and notes. Tracebacks in stderr (`File "main.py",
// line N`) become links to line N of the editor; in a session, those of the
// run's own cell (`File "<cell K>", line N`) do.
//
// Displays are the program's: untrusted. Nothing of theirs is ever parsed as
// HTML in this page. Images become <img> with a data: URL; SVG too (an SVG
// image runs no script and loads nothing); HTML goes into an <iframe
// sandbox=""> (no script, an opaque origin, no forms, popups or navigation
// of this page); everything else is text.
'use strict';

(() => {
  // A one-off run's program is main.py; a session's runs are <cell 1>, <cell 2>, ...
  const TRACEBACK_LINE = /File "(?:main\.py|<cell (\d+)>)", line (\d+)/g;
  // The richest type a display has is shown (PROTOCOL.md §4.7); text/plain always is there.
  const DISPLAY_ORDER = ['image/png', 'image/jpeg', 'image/svg+xml', 'text/html', 'text/markdown',
    'application/json', 'text/plain'];
  const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
  // The frame's document is another origin: its height cannot be read, only guessed.
  const FRAME_ROW_PX = 27;
  const FRAME_MIN_PX = 48;
  const FRAME_MAX_PX = 320;
  // Our own stylesheet for framed HTML (the page's Content-Security-Policy,
  // which the frame inherits, refuses the program's inline styles).
  const FRAME_STYLESHEET = new URL('display-frame.css', document.baseURI).href;

  class OutputView {
    /** `onGoToLine(n)` is called when a traceback link is followed. */
    constructor(element, {onGoToLine}) {
      this.element = element;
      this.openTails = new Set();   // stderr spans whose last line is not complete yet
      this.queue = [];              // [kind, text or display] not shown yet; shown once per frame
      this.frame = null;
      this.following = true;        // at the last flush the view was at its end
      this.cell = null;             // in a session, the run's cell: the first a traceback names
      element.addEventListener('click', (event) => {
        const link = event.target.closest('a[data-line]');
        if (!link || !element.contains(link)) return;
        event.preventDefault();
        onGoToLine(Number(link.dataset.line));
      });
    }

    clear() {
      this.queue = [];
      this.cell = null;
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

    /** A display of the program's ({data, metadata?}, as run/display has it), after the text so far. */
    display(display) {
      this.enqueue('display', display);
    }

    /**
     * Output can arrive faster than it is worth laying out: text is queued
     * and added once per animation frame, with one look at the scroll position.
     */
    enqueue(kind, item) {
      const last = this.queue[this.queue.length - 1];
      if (last && last[0] === kind && kind !== 'note' && kind !== 'display') last[1] += item;
      else this.queue.push([kind, item]);
      if (this.frame === null) this.frame = requestAnimationFrame(() => this.flush());
    }

    flush() {
      if (this.frame !== null) cancelAnimationFrame(this.frame);
      this.frame = null;
      if (!this.queue.length) return;
      const follow = this.atEnd();
      for (const [kind, item] of this.queue) {
        if (kind === 'stderr') this.writeStderr(item);
        else if (kind === 'note') this.addNote(item);
        else if (kind === 'display') this.addDisplay(item);
        else this.spanFor(kind).append(item);
      }
      this.queue = [];
      this.following = follow;
      if (follow) this.scrollToEnd();
    }

    scrollToEnd() {
      this.element.scrollTop = this.element.scrollHeight;
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
      span.append(...this.linkify(buffer.slice(0, cut)));
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

    addDisplay(display) {
      const block = renderDisplay(display);
      // An image has no height until it is decoded: follow the end once it has.
      for (const img of block.querySelectorAll('img')) {
        img.addEventListener('load', () => { if (this.following) this.scrollToEnd(); }, {once: true});
      }
      this.element.append(block);
    }

    /** Whether the last thing shown (or queued) ends a line (a display is a block of its own). */
    endsLine() {
      const queued = this.queue[this.queue.length - 1];
      if (queued) return queued[0] === 'display' || queued[1] === '' || queued[1].endsWith('\n');
      const last = this.element.lastChild;
      if (!last || last.dataset?.stream === 'display') return true;
      return last.textContent === '' || last.textContent.endsWith('\n');
    }

    /**
     * Text → nodes, with `File "main.py", line N` as links. In a session the
     * outermost frame of a traceback is the run's own cell: its lines are
     * the editor's; earlier cells' are not, and stay text.
     */
    linkify(text) {
      const nodes = [];
      let last = 0;
      for (const match of text.matchAll(TRACEBACK_LINE)) {
        const [, cell, line] = match;
        if (cell !== undefined) this.cell ??= cell;
        if (cell !== undefined && cell !== this.cell) continue;
        if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
        const link = document.createElement('a');
        link.href = `#line-${line}`;
        link.className = 'traceback-link';
        link.dataset.line = line;
        link.title = `Go to line ${line} in the editor`;
        link.textContent = match[0];
        nodes.push(link);
        last = match.index + match[0].length;
      }
      if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
      return nodes;
    }

    /** The run is over: show what is queued, linkify partial last lines, mark the view finished. */
    finish() {
      this.flush();
      for (const span of this.openTails) {
        if (!span.tail) continue;
        const tail = span.tail;
        span.tail = null;
        tail.replaceWith(...this.linkify(tail.data));
      }
      this.openTails.clear();
      this.element.classList.add('is-finished');
    }
  }

  // --------------------------------------------------------------- displays

  /** A display as a block: its richest type that is well formed, else its text. */
  function renderDisplay({data, metadata}) {
    const bundle = data && typeof data === 'object' ? data : {};
    const text = typeof bundle['text/plain'] === 'string' ? bundle['text/plain'] : '';
    const block = document.createElement('div');
    block.className = 'out-display';
    block.dataset.stream = 'display';
    for (const mime of DISPLAY_ORDER) {
      if (!Object.hasOwn(bundle, mime)) continue;
      const shown = RENDERERS[mime](bundle[mime], {mime, text, metadata: metadataFor(metadata, mime)});
      if (!shown) continue;
      block.dataset.mime = mime;
      block.append(shown);
      return block;
    }
    block.dataset.mime = 'text/plain';
    block.append(textBlock(text, 'out-display-text'));
    return block;
  }

  const RENDERERS = {
    'image/png': imageFromBase64,
    'image/jpeg': imageFromBase64,
    'image/svg+xml': svgImage,
    'text/html': htmlFrame,
    'text/markdown': (markdown) => typeof markdown === 'string' && textBlock(markdown, 'out-display-markdown'),
    'application/json': (value) => textBlock(JSON.stringify(value, null, 2), 'out-display-json'),
    'text/plain': (plain) => typeof plain === 'string' && textBlock(plain, 'out-display-text'),
  };

  /** What the display's metadata says of `mime` (Jupyter's {"image/png": {"width": …}}), or {}. */
  function metadataFor(metadata, mime) {
    const entry = metadata && typeof metadata === 'object' ? metadata[mime] : null;
    return entry && typeof entry === 'object' ? entry : {};
  }

  function textBlock(text, className) {
    const block = document.createElement('div');
    block.className = className;
    block.textContent = text;
    return block;
  }

  /** PNG or JPEG: a data: URL of exactly the base64 that came (anything else is not an image). */
  function imageFromBase64(base64, {mime, text, metadata}) {
    if (typeof base64 !== 'string' || !BASE64.test(base64)) return null;
    return image(`data:${mime};base64,${base64}`, text, metadata);
  }

  /**
   * SVG as an <img>, not in a frame: an SVG image runs no script, follows
   * no link and loads nothing (the browser's secure static mode), and sizes
   * itself from its own width and height, which a frame could not.
   */
  function svgImage(svg, {text, metadata}) {
    if (typeof svg !== 'string') return null;
    return image(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, text, metadata);
  }

  function image(url, text, {width, height}) {
    const img = document.createElement('img');
    img.className = 'out-image';
    img.alt = text;
    img.decoding = 'async';
    if (Number.isFinite(width) && width > 0) img.width = width;
    if (Number.isFinite(height) && height > 0) img.height = height;
    img.src = url;
    return img;
  }

  /**
   * HTML in an <iframe sandbox=""> filled with srcdoc: the empty sandbox
   * gives it an opaque origin and no scripts, forms, popups, plugins or
   * navigation of this page, and it inherits this page's
   * Content-Security-Policy (nothing loaded from elsewhere). Its height is a
   * guess; it scrolls, and its box can be dragged taller.
   */
  function htmlFrame(html, {text}) {
    if (typeof html !== 'string') return null;
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', '');   // before it has a document: the flags apply from the first one
    frame.className = 'out-frame';
    frame.title = `HTML output: ${text.replace(/\s+/g, ' ').trim().slice(0, 80)}`;
    frame.referrerPolicy = 'no-referrer';
    frame.srcdoc = frameDocument(html);
    const box = document.createElement('div');
    box.className = 'out-frame-box';
    box.style.height = `${frameHeight(html)}px`;
    box.append(frame);
    return box;
  }

  function frameDocument(html) {
    return '<!doctype html><html><head><meta charset="utf-8">'
      + `<link rel="stylesheet" href="${FRAME_STYLESHEET}"></head><body>${html}</body></html>`;
  }

  /** Rows of a table and other blocks, a row's height each, within bounds. */
  function frameHeight(html) {
    const rows = (html.match(/<(tr|p|li|br|h[1-6]|pre|hr)\b/gi) || []).length;
    return Math.min(FRAME_MAX_PX, Math.max(FRAME_MIN_PX, 20 + FRAME_ROW_PX * rows));
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {OutputView});
})();
