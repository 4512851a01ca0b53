// The code editor: CodeMirror 5 from /vendor/codemirror/ (Debian's
// libjs-codemirror) when the server has it, else the page's plain textarea
// with a few conveniences (spaces for Tab, auto-indent, Ctrl+/ comments). Both are used
// through the same small interface; see createCodeEditor(). CodeMirror's
// show-hint addon (completion.js) and runmode addon (cell-history.js) are
// loaded with it.
'use strict';

(() => {
  const VENDOR = '/vendor/codemirror';
  const INDENT = 4;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.async = false;
      script.addEventListener('load', () => resolve(src));
      script.addEventListener('error', () => reject(new Error(`could not load ${src}`)));
      document.head.append(script);
    });
  }

  /** Inserted before our own stylesheet, so editor.css overrides it. */
  function loadStyle(href) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    const ours = document.querySelector('link[rel="stylesheet"][href$="editor.css"]');
    document.head.insertBefore(link, ours);
  }

  /** Python's auto-indent, as CodeMirror's python mode does it for the common cases. */
  function indentAfter(line) {
    const indent = line.match(/^ */)[0].length;
    const code = line.replace(/#.*$/, '').trim();
    if (code.endsWith(':')) return indent + INDENT;
    if (/^(return|pass)\b/.test(code)) return Math.max(0, indent - INDENT);
    return indent;
  }

  /**
   * The delimiter of the Python string still open at the end of `text` (the
   * code up to the cursor), or null. Good enough for quotes typed by hand.
   */
  function openStringAt(text) {
    let open = null;
    for (let i = 0; i < text.length;) {
      const c = text[i];
      if (open) {
        if (c === '\\') i += 2;
        else if (text.startsWith(open, i)) { i += open.length; open = null; }
        else { if (c === '\n' && open.length === 1) open = null; i += 1; }
      } else if (c === '#') {
        const end = text.indexOf('\n', i);
        if (end === -1) return null;
        i = end + 1;
      } else if (c === '"' || c === "'") {
        open = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
        i += open.length;
      } else {
        i += 1;
      }
    }
    return open;
  }

  /**
   * Ctrl+/ on `lines` (the lines a selection touches): when every line with
   * code is a comment, each loses its `#` (and one space after it); else
   * each line with code gets `# ` at the least indentation among them, as
   * CodeMirror's toggleComment({indent: true}) does. A lone blank line is
   * commented too.
   */
  function toggleLineComments(lines) {
    const code = lines.filter((line) => /\S/.test(line));
    if (code.length && code.every((line) => /^\s*#/.test(line))) {
      return lines.map((line) => line.replace(/^(\s*)# ?/, '$1'));
    }
    const targets = code.length ? code : lines;
    const indent = Math.min(...targets.map((line) => line.match(/^\s*/)[0].length));
    return lines.map((line) => (code.length && !/\S/.test(line) ? line
      : `${line.slice(0, indent)}# ${line.slice(indent)}`));
  }

  // ---------------------------------------------------------------- CodeMirror

  /**
   * Quotes typed inside a string. closebrackets pairs a quote typed after a
   * non-word character even when it ends a string whose opening quote it
   * did not pair (f'…', r'…'), leaving a stray quote; and it jumps over all
   * of a closing """ at the first quote, so typing three leaves two extra.
   * Here, inside a string, a quote steps over the same quote after the
   * cursor, and is typed as it is otherwise. Outside strings closebrackets
   * decides.
   */
  function quoteKeys(CM) {
    const handler = (quote) => (cm) => {
      if (cm.somethingSelected()) return CM.Pass;
      const cur = cm.getCursor();
      const line = cm.getLine(cur.line);
      if (openStringAt(cm.getRange({line: 0, ch: 0}, cur)) === null) return CM.Pass;
      if (line.charAt(cur.ch) === quote) cm.setCursor({line: cur.line, ch: cur.ch + 1});
      else cm.replaceSelection(quote);
      return undefined;
    };
    return {"'\''": handler("'"), "'\"'": handler('"')};
  }

  /** The comment addon's toggle, else the same by hand (the addon is optional). */
  function toggleComment(CM, cm) {
    if (typeof cm.toggleComment === 'function') {
      cm.toggleComment({indent: true});
      return;
    }
    const from = cm.getCursor('from');
    const to = cm.getCursor('to');
    const last = to.ch === 0 && to.line > from.line ? to.line - 1 : to.line;
    const lines = [];
    for (let line = from.line; line <= last; line += 1) lines.push(cm.getLine(line));
    cm.replaceRange(toggleLineComments(lines).join('\n'), CM.Pos(from.line, 0), CM.Pos(last, lines[lines.length - 1].length));
  }

  function codeMirrorEditor(textarea, {onRun}) {
    const CM = window.CodeMirror;
    let tabLeaves = false;   // Esc, then Tab: move focus out of the editor
    const cm = CM.fromTextArea(textarea, {
      mode: {name: 'python', version: 3},
      theme: 'pysandbox',
      lineNumbers: true,
      indentUnit: INDENT,
      tabSize: INDENT,
      indentWithTabs: false,
      smartIndent: true,
      matchBrackets: true,
      autoCloseBrackets: true,
      screenReaderLabel: 'Python code',
      extraKeys: {
        'Ctrl-Enter': () => onRun(),
        'Cmd-Enter': () => onRun(),
        Esc: () => { tabLeaves = true; },
        Tab: (editor) => {
          if (editor.somethingSelected()) editor.execCommand('indentMore');
          else editor.execCommand('insertSoftTab');
        },
        'Shift-Tab': 'indentLess',
        'Ctrl-/': (editor) => toggleComment(CM, editor),
        'Cmd-/': (editor) => toggleComment(CM, editor),
        Backspace: (editor) => {
          // In leading spaces, go back to the previous indentation stop.
          if (editor.somethingSelected()) return CM.Pass;
          const cur = editor.getCursor();
          const before = editor.getLine(cur.line).slice(0, cur.ch);
          if (cur.ch === 0 || /[^ ]/.test(before)) return CM.Pass;
          const to = Math.floor((cur.ch - 1) / INDENT) * INDENT;
          editor.replaceRange('', {line: cur.line, ch: to}, cur, '+delete');
          return undefined;
        },
      },
    });
    cm.addKeyMap(quoteKeys(CM));
    cm.on('keydown', (_editor, event) => {
      if (event.key === 'Tab' && tabLeaves) {
        event.codemirrorIgnore = true;   // the browser moves the focus
        tabLeaves = false;
      } else if (event.key !== 'Escape' && event.key !== 'Shift') {
        tabLeaves = false;
      }
    });
    const wrapper = cm.getWrapperElement();
    wrapper.dataset.testid = 'editor';
    return {
      kind: 'codemirror',
      element: wrapper,
      codeMirror: cm,   // for completion.js and inspect-panel.js
      getValue: () => cm.getValue(),
      onChange: (fn) => cm.on('changes', () => fn()),
      focus: () => cm.focus(),
      refresh: () => cm.refresh(),
      goToLine(number) {
        const line = Math.min(Math.max(number, 1), cm.lineCount()) - 1;
        const ch = cm.getLine(line).match(/^\s*/)[0].length;
        cm.setCursor({line, ch});
        cm.scrollIntoView({line, ch}, 80);
        cm.addLineClass(line, 'background', 'cm-flash-line');
        setTimeout(() => cm.removeLineClass(line, 'background', 'cm-flash-line'), 1500);
        cm.focus();
      },
    };
  }

  // ------------------------------------------------------------ plain textarea

  function textareaEditor(textarea, {onRun}) {
    let tabLeaves = false;
    textarea.classList.add('plain-editor');
    textarea.dataset.testid = 'editor';
    textarea.spellcheck = false;

    /** Replaces [start, end) with text, keeping the browser's undo history. */
    function replace(start, end, text, select) {
      textarea.focus();
      textarea.setSelectionRange(start, end);
      // Chrome misplaces the caret after insertText with '' before a final newline: delete instead.
      const done = text === '' ? start === end || document.execCommand('delete')
        : document.execCommand('insertText', false, text);
      if (!done) {
        textarea.setRangeText(text, start, end, 'end');
        textarea.dispatchEvent(new Event('input', {bubbles: true}));
      }
      if (select) textarea.setSelectionRange(select[0], select[1]);
    }

    const lineStart = (value, pos) => value.lastIndexOf('\n', pos - 1) + 1;

    /** Indents (+1) or dedents (-1) every line the selection touches. */
    function shiftLines(direction) {
      const {value, selectionStart: s, selectionEnd: e} = textarea;
      const from = lineStart(value, s);
      const lastEnd = value.indexOf('\n', e > s && value[e - 1] === '\n' ? e - 1 : e);
      const to = lastEnd === -1 ? value.length : lastEnd;
      const lines = value.slice(from, to).split('\n');
      const changed = lines.map((line) => (direction > 0
        ? ' '.repeat(INDENT) + line
        : line.replace(new RegExp(`^ {1,${INDENT}}`), '')));
      const text = changed.join('\n');
      const firstDelta = changed[0].length - lines[0].length;
      const newStart = Math.max(from, s + firstDelta);
      replace(from, to, text, s === e ? [newStart, newStart] : [newStart, from + text.length]);
    }

    /** Ctrl+/: comments or uncomments the lines the selection touches, and keeps them selected. */
    function toggleComments() {
      const {value, selectionStart: s, selectionEnd: e} = textarea;
      const from = lineStart(value, s);
      const lastEnd = value.indexOf('\n', e > s && value[e - 1] === '\n' ? e - 1 : e);
      const to = lastEnd === -1 ? value.length : lastEnd;
      const text = toggleLineComments(value.slice(from, to).split('\n')).join('\n');
      const caret = s === e ? Math.max(from, s + (text.length - (to - from))) : null;
      replace(from, to, text, s === e ? [caret, caret] : [from, from + text.length]);
    }

    textarea.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' && event.key !== 'Shift') {
        if (event.key === 'Tab' && tabLeaves) { tabLeaves = false; return; }
        tabLeaves = false;
      }
      const {value, selectionStart: s, selectionEnd: e} = textarea;
      if (event.key === 'Escape') {
        tabLeaves = true;
      } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        onRun();
      } else if (event.key === '/' && (event.ctrlKey || event.metaKey) && !event.altKey) {
        event.preventDefault();
        toggleComments();
      } else if (event.key === 'Enter' && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        const line = value.slice(lineStart(value, s), s);
        replace(s, e, '\n' + ' '.repeat(indentAfter(line)));
      } else if (event.key === 'Tab') {
        event.preventDefault();
        const multiLine = value.slice(s, e).includes('\n');
        if (event.shiftKey || multiLine) {
          shiftLines(event.shiftKey ? -1 : 1);
        } else {
          const column = s - lineStart(value, s);
          replace(s, e, ' '.repeat(INDENT - (column % INDENT)));
        }
      } else if (event.key === 'Backspace' && s === e && !event.ctrlKey && !event.altKey) {
        const start = lineStart(value, s);
        const before = value.slice(start, s);
        if (before.length > 0 && /^ +$/.test(before)) {
          event.preventDefault();
          replace(start + Math.floor((before.length - 1) / INDENT) * INDENT, s, '');
        }
      }
    });

    return {
      kind: 'textarea',
      element: textarea,
      codeMirror: null,
      getValue: () => textarea.value,
      onChange: (fn) => textarea.addEventListener('input', () => fn()),
      focus: () => textarea.focus(),
      refresh: () => {},
      goToLine(number) {
        const lines = textarea.value.split('\n');
        const line = Math.min(Math.max(number, 1), lines.length) - 1;
        let pos = 0;
        for (let i = 0; i < line; i += 1) pos += lines[i].length + 1;
        pos += lines[line].match(/^\s*/)[0].length;
        textarea.focus();
        textarea.setSelectionRange(pos, pos);
        // Scroll the line into view: lines are one line-height apart.
        const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
        const top = line * lineHeight;
        if (top < textarea.scrollTop || top > textarea.scrollTop + textarea.clientHeight - lineHeight) {
          textarea.scrollTop = Math.max(0, top - textarea.clientHeight / 3);
        }
      },
    };
  }

  // ----------------------------------------------------------------- public

  /**
   * Turns `textarea` into the code editor. Resolves with
   * {editor, problem}: `problem` is null, or says why the plain textarea is
   * used or what part of CodeMirror is missing.
   */
  async function createCodeEditor(textarea, options) {
    try {
      loadStyle(`${VENDOR}/lib/codemirror.css`);
      loadStyle(`${VENDOR}/addon/hint/show-hint.css`);
      await loadScript(`${VENDOR}/lib/codemirror.js`);
    } catch (err) {
      return {editor: textareaEditor(textarea, options), problem: 'missing'};
    }
    const parts = ['mode/python/python.js', 'addon/edit/matchbrackets.js', 'addon/edit/closebrackets.js',
      'addon/comment/comment.js', 'addon/hint/show-hint.js', 'addon/runmode/runmode.js'];
    const results = await Promise.allSettled(parts.map((part) => loadScript(`${VENDOR}/${part}`)));
    const missing = parts.filter((_, i) => results[i].status === 'rejected');
    return {editor: codeMirrorEditor(textarea, options), problem: missing.length ? missing : null};
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {createCodeEditor, indentAfter, toggleLineComments});
})();
