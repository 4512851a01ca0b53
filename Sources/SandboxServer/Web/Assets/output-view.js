// The output pane: program output as it streams (stdout and stderr styled
// apart; ANSI colours and `\r` as a terminal shows them, see
// terminal-text.js), the program's displays (plots, tables) where it made them, what the
// user typed as stdin, and notes. Tracebacks in stderr (`File "main.py",
// line N`) become links to line N of the editor; in a session, those of the
// run's own cell (`File "<cell K>", line N`) do. With Keep variables the
// runs stack up as cells (cell-history.js): each run's output then goes
// into its cell, begin(sink), and the view scrolls as one.
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

  const {TerminalText, styledNode, isPlainStyle} = window.PySandbox;
  // Text goes into blocks of at most about this many nodes or characters: a
  // browser lays out one block's lines together, so appending to one huge
  // block would cost more with every line (100,000 coloured lines are
  // 200,000 nodes). A new block starts only at the start of a line.
  const BLOCK_NODES = 1000;
  const BLOCK_CHARS = 65536;

  class OutputView {
    /** `onGoToLine(n, link)` is called when a traceback link is followed. */
    constructor(element, {onGoToLine}) {
      this.element = element;
      this.sink = element;          // where the run's output goes: the view, or its cell's output
      this.queue = [];              // [kind, text or display] not shown yet; shown once per frame
      this.frame = null;
      this.following = true;        // at the last flush the view was at its end
      this.cell = null;             // in a session, the run's cell: the first a traceback names
      this.reset();
      element.addEventListener('click', (event) => {
        const link = event.target.closest('a[data-line]');
        if (!link || !element.contains(link)) return;
        event.preventDefault();
        onGoToLine(Number(link.dataset.line), link);
      });
    }

    /** The terminal state: each stream's escape parser, and the line a `\r` rewrites. */
    reset() {
      this.block = null;             // the text block being filled (see BLOCK_NODES)
      this.blockNodes = 0;
      this.blockChars = 0;
      this.terminals = {stdout: new TerminalText(), stderr: new TerminalText()};
      this.line = [];                // the nodes after the last newline, whichever stream wrote them
      this.carriageReturn = false;   // a `\r` came: the next text replaces the line
      this.openTails = new Set();    // stderr text nodes of an unfinished line, linkified when it ends
    }

    clear() {
      this.queue = [];
      this.cell = null;
      this.sink = this.element;
      this.element.replaceChildren();
      this.reset();
      this.element.classList.remove('is-finished');
      this.element.scrollTop = 0;
    }

    /** A new run whose output goes into `sink` (an element inside the view), after what the view shows. */
    begin(sink) {
      this.flush();
      this.cell = null;
      this.sink = sink;
      this.reset();
      this.element.classList.remove('is-finished');
    }

    /** Whether the view is scrolled to (nearly) the end, so it should follow new text. */
    atEnd() {
      const el = this.element;
      return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    }

    /** The block text goes into: the last, unless a display came after it, or it is full at a line's start. */
    textBlock() {
      const full = this.blockNodes >= BLOCK_NODES || this.blockChars >= BLOCK_CHARS;
      if (this.block && this.block === this.sink.lastChild && !(full && this.line.length === 0)) return this.block;
      this.block = document.createElement('span');
      this.block.className = 'out-text';
      this.blockNodes = 0;
      this.blockChars = 0;
      this.sink.append(this.block);
      return this.block;
    }

    /** The span new text of `kind` goes into: the block's last one if it is of that kind. */
    spanFor(kind) {
      const block = this.textBlock();
      const last = block.lastChild;
      if (last && last.dataset.stream === kind) return last;
      const span = document.createElement('span');
      span.className = `out-${kind}`;
      span.dataset.stream = kind;
      block.append(span);
      return span;
    }

    /** Appends `nodes` to `span`, counting them toward the block's size. */
    add(span, nodes, chars) {
      span.append(...nodes);
      this.blockNodes += nodes.length;
      this.blockChars += chars;
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
        if (kind === 'stdout' || kind === 'stderr') this.writeStream(kind, item);
        else if (kind === 'note') this.addNote(item);
        else if (kind === 'display') this.addDisplay(item);
        else this.appendPlain(kind, item);
      }
      this.queue = [];
      this.following = follow;
      if (follow) this.scrollToEnd();
    }

    scrollToEnd() {
      this.element.scrollTop = this.element.scrollHeight;
    }

    /** Program output through its stream's terminal: styled text, `\r`, erase line. */
    writeStream(stream, text) {
      for (const piece of this.terminals[stream].feed(text)) {
        if (piece.control === 'carriageReturn') this.carriageReturn = true;
        else if (piece.control === 'eraseLine') this.clearLine();
        else if (piece.control === 'eraseToEnd') { if (this.carriageReturn) this.clearLine(); }
        else this.writeText(stream, piece.text, piece.style);
      }
    }

    /** Text after a `\r` replaces the line; a newline right after it keeps the line. */
    writeText(stream, text, style) {
      if (this.carriageReturn) {
        this.carriageReturn = false;
        if (text[0] !== '\n') this.clearLine();
      }
      if (stream === 'stderr' && isPlainStyle(style)) this.writeStderr(text);
      else this.appendLines(this.spanFor(stream), text, (part) => styledNode(part, style));
    }

    /** Echoed stdin: the line stands (the user typed after it). */
    appendPlain(kind, text) {
      this.carriageReturn = false;
      this.appendLines(this.spanFor(kind), text, (part) => document.createTextNode(part));
    }

    /** Appends `text` as (at most) two nodes: its complete lines, then the start of the next line. */
    appendLines(span, text, node) {
      const cut = text.lastIndexOf('\n') + 1;
      if (cut > 0) {
        this.add(span, [node(text.slice(0, cut))], cut);
        this.line = [];
      }
      if (cut < text.length) {
        const rest = node(text.slice(cut));
        this.add(span, [rest], text.length - cut);
        this.line.push(rest);
      }
    }

    /** Removes the current line's nodes (`\r` then text, or an erase-line escape). */
    clearLine() {
      for (const node of this.line) {
        const parent = node.parentNode;
        node.remove();
        this.openTails.delete(node);
        // A stream span left empty goes too (the next text may be the other stream's).
        if (parent && parent.dataset.stream && !parent.firstChild) parent.remove();
      }
      this.line = [];
    }

    /** Complete lines are linkified at once; a partial last line when it completes. */
    writeStderr(text) {
      const span = this.spanFor('stderr');
      let buffer = text;
      const tail = span.lastChild;
      if (tail && this.openTails.has(tail)) {
        buffer = tail.data + text;
        tail.remove();
        this.openTails.delete(tail);
        const at = this.line.lastIndexOf(tail);
        if (at >= 0) this.line.splice(at, 1);
      }
      const cut = buffer.lastIndexOf('\n') + 1;
      if (cut > 0) {
        this.add(span, this.linkify(buffer.slice(0, cut)), cut);
        this.line = [];
      }
      if (cut < buffer.length) {
        const rest = document.createTextNode(buffer.slice(cut));
        this.add(span, [rest], buffer.length - cut);
        this.openTails.add(rest);
        this.line.push(rest);
      }
    }

    addNote(text) {
      this.carriageReturn = false;
      const span = document.createElement('span');
      span.className = 'out-note';
      span.dataset.stream = 'note';
      span.textContent = text;
      this.add(this.textBlock(), [span], text.length);
      if (text.endsWith('\n')) this.line = [];
      else if (text) this.line.push(span);
    }

    addDisplay(display) {
      const block = renderDisplay(display);
      // An image has no height until it is decoded: follow the end once it has.
      for (const img of block.querySelectorAll('img')) {
        img.addEventListener('load', () => { if (this.following) this.scrollToEnd(); }, {once: true});
      }
      this.sink.append(block);
      // A block of its own: what comes next starts a new line.
      this.line = [];
      this.carriageReturn = false;
    }

    /** Whether the output shown so far ends a line (shows what is queued first). */
    endsLine() {
      this.flush();
      return this.line.every((node) => node.textContent === '');
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
      for (const tail of this.openTails) {
        if (tail.isConnected) tail.replaceWith(...this.linkify(tail.data));
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
