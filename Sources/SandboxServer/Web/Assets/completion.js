// Completion while typing: CodeMirror's show-hint addon (Debian's
// libjs-codemirror, served by sandboxd) with names from `code/complete`
// (code-assist.js). Ctrl+Space opens the list; so does a pause of
// TRIGGER_MS after typing `.` or a character of a name (not in a string, a
// comment or a number). While the list is open, typing more of the name
// filters the names the server gave; anything else asks it again, after
// the same pause. Each list starts with a question of its own. Each name
// shows its kind (function, module, …). Tab inserts the chosen name;
// Enter does too in a list opened with Ctrl+Space or moved in with the
// arrows, else it closes the list and starts a new line (a list that opened
// by itself must not take the Enter that ends a line). Home and End are
// the line's until the list is moved in.
// Loaded after code-assist.js, before editor.js.
'use strict';

(() => {
  const {utf16Index} = window.PySandbox;
  const TRIGGER_MS = 200;
  const NAME_CHAR = /[\p{L}\p{N}_]/u;
  const NAME = /^[\p{L}\p{N}_]*$/u;
  // The list closes on any character that cannot be part of a dotted name.
  const CLOSE_CHARACTERS = /[^\p{L}\p{N}_.]/u;
  // The end of a number being typed (`12`, `0x1f`, `1e5`): nothing to complete.
  const NUMBER_END = /(?:^|[^\p{L}\p{N}_.])\.?\p{N}[\p{L}\p{N}_]*$/u;

  class Completion {
    /** `cm`: the CodeMirror editor; `assist`: a CodeAssist. */
    constructor(cm, assist) {
      Object.assign(this, {cm, assist});
      this.answer = null;        // the last answer, with the code and cursor it was for
      this.trigger = null;       // the pause after typing
      this.asking = null;        // the pause before asking again with the list open
      this.first = false;        // the next hint call is the list's first (ask at once)
      this.wake = false;         // the user asked: reconnect after an idle close
      this.chosen = false;       // the list was opened with Ctrl+Space, or moved in: Enter picks
      this.hint = (_cm, callback) => this.hints(callback);
      this.hint.async = true;
      cm.addKeyMap({'Ctrl-Space': () => this.start({asked: true})});
      cm.on('inputRead', (_cm, change) => this.typed(change));
      cm.on('endCompletion', () => clearTimeout(this.asking));
    }

    /** Opens the list (what it shows comes from hints()); `asked`: with Ctrl+Space. */
    start({asked = false} = {}) {
      if (!this.assist.capabilities.complete) return;
      clearTimeout(this.trigger);
      // Each list starts from a new answer (a run may have changed the session's names since the last).
      this.answer = null;
      this.first = true;
      this.wake = asked;
      this.chosen = asked;
      this.cm.showHint({
        hint: this.hint, completeSingle: false, closeCharacters: CLOSE_CHARACTERS, extraKeys: this.listKeys(),
      });
    }

    /** show-hint's keys, but Enter, Home and End for a list the user has not turned to. */
    listKeys() {
      const {Pass} = window.CodeMirror;
      const move = (how) => (_cm, list) => {
        this.chosen = true;
        how(list);
      };
      const ifChosen = (how) => (_cm, list) => {
        if (this.chosen) return how(list);
        list.close();
        return Pass;
      };
      return {
        Up: move((list) => list.moveFocus(-1)),
        Down: move((list) => list.moveFocus(1)),
        PageUp: move((list) => list.moveFocus(-list.menuSize() + 1, true)),
        PageDown: move((list) => list.moveFocus(list.menuSize() - 1, true)),
        Home: ifChosen((list) => list.setFocus(0)),
        End: ifChosen((list) => list.setFocus(list.length - 1)),
        Enter: ifChosen((list) => list.pick()),
      };
    }

    /** A character typed: `.` or a name's starts the pause before the list opens. */
    typed(change) {
      if (this.cm.state.completionActive || change.text.length !== 1 || [...change.text[0]].length !== 1) return;
      const char = change.text[0];
      if (char !== '.' && !NAME_CHAR.test(char)) return;
      clearTimeout(this.trigger);
      this.trigger = setTimeout(() => this.typingPaused(), TRIGGER_MS);
    }

    typingPaused() {
      const {cm} = this;
      if (!cm.hasFocus() || cm.somethingSelected() || cm.state.completionActive) return;
      const cursor = cm.getCursor();
      const before = cm.getLine(cursor.line).slice(0, cursor.ch);
      if (!/[\p{L}\p{N}_.]$/u.test(before) || NUMBER_END.test(before)) return;
      const type = cm.getTokenTypeAt(cursor) || '';
      if (/\b(string|comment)\b/.test(type)) return;
      this.start();
    }

    /** show-hint's hint function: from the list's last answer when it still applies, else from a new one. */
    hints(callback) {
      const code = this.cm.getValue();
      const cursor = this.cm.indexFromPos(this.cm.getCursor());
      const known = this.fromAnswer(code, cursor);
      if (known !== undefined) {
        this.first = false;
        callback(known);
        return;
      }
      // No list while the server is asked: the one shown is for other code, and must not be picked.
      if (!this.first) callback(null);
      clearTimeout(this.asking);
      const delay = this.first ? 0 : TRIGGER_MS;
      this.first = false;
      this.asking = setTimeout(() => this.ask(callback), delay);
    }

    async ask(callback) {
      const wake = this.wake;
      this.wake = false;
      const code = this.cm.getValue();
      const cursor = this.cm.indexFromPos(this.cm.getCursor());
      const result = await this.assist.ask('code/complete', code, cursor, {wake});
      // Replaced by a newer question (show-hint drops this callback: it waits for the newer one's), or
      // none to be had (refused, disconnected): no list.
      if (!result) {
        callback(null);
        return;
      }
      const matches = Array.isArray(result.matches) ? result.matches : [];
      const metadata = result.metadata || {};
      this.answer = {
        code, cursor, matches,
        types: Array.isArray(metadata.types) ? metadata.types : [],
        source: metadata.source,
        from: utf16Index(code, result.cursorStart),
        to: utf16Index(code, result.cursorEnd),
        // Cut short (1000 names, an error): filtering it as the user types could miss names.
        whole: !metadata.error && matches.length < 1000,
      };
      // Answered for the code as it was: the editor may have moved on.
      const now = this.cm.getValue();
      const known = this.fromAnswer(now, this.cm.indexFromPos(this.cm.getCursor()));
      callback(known === undefined ? null : known);
    }

    /**
     * The list for `code` with the cursor at `cursor` from the last answer:
     * hint data, null (no names), or undefined when the answer does not
     * apply (the code before the name changed, or the name is not the one
     * answered for, continued).
     */
    fromAnswer(code, cursor) {
      const a = this.answer;
      if (!a || cursor < a.from || code.slice(0, a.from) !== a.code.slice(0, a.from)) return undefined;
      const typed = code.slice(a.from, cursor);
      const exact = code === a.code && cursor === a.cursor;
      if (!exact) {
        const typedThen = a.code.slice(a.from, a.cursor);
        // Names starting with _ are offered only for a prefix starting with _.
        if (!a.whole || !NAME.test(typed) || !typed.startsWith(typedThen)
            || (typed.startsWith('_') && !typedThen.startsWith('_'))) return undefined;
      }
      const list = [];
      a.matches.forEach((name, i) => {
        if (name.startsWith(typed)) list.push(this.item(name, a.types[i]));
      });
      if (!list.length || (list.length === 1 && list[0].text === typed)) return null;
      const {cm} = this;
      return {list, from: cm.posFromIndex(a.from), to: cm.posFromIndex(exact ? a.to : cursor)};
    }

    item(name, kind) {
      return {
        text: name,
        kind: typeof kind === 'string' ? kind : '',
        className: kind ? `hint-kind-${kind}` : '',
        render(li, _data, item) {
          const label = document.createElement('span');
          label.className = 'hint-name';
          label.textContent = item.text;
          li.append(label);
          li.dataset.name = item.text;
          if (!item.kind) return;
          li.dataset.kind = item.kind;
          const tag = document.createElement('span');
          tag.className = 'hint-kind';
          tag.textContent = item.kind;
          li.append(tag);
        },
      };
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {Completion});
})();
