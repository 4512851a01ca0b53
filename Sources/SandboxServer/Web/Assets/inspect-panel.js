// Shift+Tab in the editor: the signature and docstring of the name at the
// cursor (`code/inspect`, through code-assist.js) in a small panel under
// the cursor, as Jupyter shows them. Escape, typing, a click elsewhere or
// scrolling the editor closes it. Shift+Tab with a selection, or with only
// indentation before the cursor, still dedents. The text is the server's
// (from the session's objects, so the program's): only ever text here.
// Loaded after code-assist.js, before editor.js.
'use strict';

(() => {
  const MARGIN = 8;

  class InspectPanel {
    /** `cm`: the CodeMirror editor; `assist`: a CodeAssist. */
    constructor(cm, assist) {
      Object.assign(this, {cm, assist});
      this.panel = null;
      this.asked = 0;            // which question the open panel waits for
      this.keys = {Esc: () => this.close()};
      cm.addKeyMap({'Shift-Tab': () => this.shiftTab()});
      cm.on('changes', () => this.close());
      cm.on('scroll', () => this.close());
      document.addEventListener('pointerdown', (event) => {
        if (this.panel && !this.panel.contains(event.target)) this.close();
      }, true);
      addEventListener('resize', () => this.close());
    }

    shiftTab() {
      const {cm} = this;
      const cursor = cm.getCursor();
      const indentation = /^\s*$/.test(cm.getLine(cursor.line).slice(0, cursor.ch));
      if (cm.somethingSelected() || indentation || !this.assist.capabilities.inspect) return window.CodeMirror.Pass;
      this.show();
      return undefined;
    }

    async show() {
      const {cm} = this;
      const asked = ++this.asked;
      const code = cm.getValue();
      const cursor = cm.indexFromPos(cm.getCursor());
      this.open();
      this.fill({note: 'Looking up the name at the cursor…', state: 'pending'});
      const result = await this.assist.ask('code/inspect', code, cursor, {wake: true});
      if (asked !== this.asked || !this.panel) return;   // closed, or asked again
      const text = result && result.found && result.data && result.data['text/plain'];
      if (typeof text === 'string' && text) {
        this.fill({text, state: 'found'});
      } else {
        const error = result && result.metadata && result.metadata.error;
        this.fill({note: result ? `Nothing to show for the name at the cursor${error ? ` (${error})` : ''}.`
          : 'The server could not be asked.', state: 'none'});
      }
    }

    open() {
      if (!this.panel) {
        const panel = document.createElement('div');
        panel.className = 'inspect-panel';
        panel.id = 'inspect-panel';
        panel.dataset.testid = 'inspect';
        panel.setAttribute('role', 'tooltip');
        panel.setAttribute('aria-live', 'polite');
        document.body.append(panel);
        this.panel = panel;
        this.cm.addKeyMap(this.keys);
        this.cm.getInputField().setAttribute('aria-describedby', panel.id);
      }
    }

    /** `text`: the server's (its first paragraph, name and signature, set apart); or a `note` of ours. */
    fill({text = null, note = null, state}) {
      const panel = this.panel;
      panel.dataset.state = state;
      panel.replaceChildren();
      if (text !== null) {
        const cut = text.indexOf('\n\n');
        const head = document.createElement('pre');
        head.className = 'inspect-signature';
        head.textContent = cut === -1 ? text : text.slice(0, cut);
        panel.append(head);
        if (cut !== -1) {
          const doc = document.createElement('pre');
          doc.className = 'inspect-doc';
          doc.textContent = text.slice(cut + 2);
          panel.append(doc);
        }
      } else {
        const p = document.createElement('p');
        p.className = 'inspect-note';
        p.textContent = note;
        panel.append(p);
      }
      const close = document.createElement('span');
      close.className = 'inspect-hint';
      close.textContent = 'Esc closes';
      panel.append(close);
      this.place();
    }

    /** Under the cursor, within the window; above it when there is no room below. */
    place() {
      const {panel, cm} = this;
      const at = cm.cursorCoords(cm.getCursor(), 'window');
      panel.style.left = '0px';
      panel.style.top = '0px';
      const {width, height} = panel.getBoundingClientRect();
      const left = Math.max(MARGIN, Math.min(at.left, innerWidth - width - MARGIN));
      const below = at.bottom + 4;
      const top = below + height + MARGIN > innerHeight && at.top - height - 4 >= MARGIN ? at.top - height - 4 : below;
      panel.style.left = `${left + scrollX}px`;
      panel.style.top = `${top + scrollY}px`;
    }

    close() {
      if (!this.panel) return;
      this.asked += 1;
      this.panel.remove();
      this.panel = null;
      this.cm.removeKeyMap(this.keys);
      this.cm.getInputField().removeAttribute('aria-describedby');
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {InspectPanel});
})();
