// With Keep variables on, runs stack up in the output pane as cells, as in
// a notebook: each cell shows the code it ran (highlighted by CodeMirror's
// runmode addon when the server has it), its output (output-view.js writes
// into the cell) and a line with its verdict. A run in another session than
// the cell before it starts with a divider: the earlier cells' variables are
// gone. A verdict with `rolledBack: true` says so in the cell. Clear empties
// the history. With Keep variables off the pane holds one run, as before.
// Loaded after output-view.js, before editor.js.
'use strict';

(() => {
  // The oldest cells go beyond this many: a long session's outputs add up.
  const MAX_CELLS = 100;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** The code as one element per line (so a traceback's line can be found), highlighted when it can be. */
  function codeBlock(code) {
    const block = element('pre', 'cell-code cm-s-pysandbox');
    block.dataset.testid = 'cell-code';
    let line = element('span', 'cell-code-line');
    block.append(line);
    const add = (text, style) => {
      if (text === '\n') {
        line = element('span', 'cell-code-line');
        block.append(line);
      } else if (style) {
        line.append(element('span', `cm-${style.replace(/ +/g, ' cm-')}`, text));
      } else {
        line.append(text);
      }
    };
    const CM = window.CodeMirror;
    if (CM && CM.runMode && CM.modes && CM.modes.python) {
      try {
        CM.runMode(code, {name: 'python', version: 3}, add);
        return block;
      } catch (err) {
        block.replaceChildren();
        line = element('span', 'cell-code-line');
        block.append(line);
      }
    }
    code.split('\n').forEach((text, i) => {
      if (i) add('\n');
      if (text) add(text);
    });
    return block;
  }

  const codes = new WeakMap();   // cell node -> the code it ran

  class CellHistory {
    /** `output`: the OutputView whose element holds the cells. */
    constructor(output) {
      this.output = output;
      this.active = false;        // the view holds cells, not a one-off run's output
      this.current = null;        // the cell of the run in progress: {node, code, foot, ...}
      this.lastSession = null;    // the session of the last cell
    }

    /** A one-off run is about to replace the view's content: it holds no cells from now on. */
    leave() {
      this.active = false;
      this.current = null;
      this.lastSession = null;
    }

    /** Empties the view: every cell, or the one-off run's output. */
    clear() {
      this.output.clear();
      this.current = null;
      this.lastSession = null;
    }

    /** A run of session `session` (null: none could be opened) starts: its cell, at the end. */
    begin({code, session}) {
      if (!this.active) {
        this.output.clear();
        this.active = true;
      }
      const view = this.output.element;
      if (this.lastSession && session && session !== this.lastSession) {
        const divider = element('div', 'cell-divider', 'New session: the variables of the cells above are gone');
        divider.dataset.testid = 'cell-divider';
        view.append(divider);
      }
      if (session) this.lastSession = session;
      const node = element('article', 'cell');
      node.dataset.testid = 'cell';
      node.dataset.state = 'running';
      const body = element('div', 'cell-output');
      body.dataset.testid = 'cell-output';
      const verdict = element('span', 'cell-verdict', 'running…');
      const detail = element('span', 'cell-detail');
      const rolledBack = element('p', 'cell-rolled-back');
      rolledBack.dataset.testid = 'cell-rolled-back';
      rolledBack.hidden = true;
      const foot = element('div', 'cell-foot');
      foot.append(verdict, detail);
      node.append(codeBlock(code), body, foot, rolledBack);
      view.append(node);
      codes.set(node, code);
      this.current = {node, verdict, detail, rolledBack};
      this.trim();
      this.output.begin(body);
      this.output.scrollToEnd();
    }

    /**
     * The current cell's run ended: `label` and `detail` as the status line
     * has them, `verdict` the run's (null when it has none: not run, lost).
     */
    finish({label, detail = '', verdict = null, state = 'done'}) {
      const cell = this.current;
      if (!cell) return;
      this.current = null;
      cell.node.dataset.state = state;
      if (verdict) cell.node.dataset.verdict = verdict.status;
      cell.verdict.textContent = label;
      cell.detail.textContent = detail;
      // rolledBack: the session was put back as it was before the run (a later protocol's member).
      if (verdict && verdict.rolledBack === true) {
        cell.node.dataset.rolledBack = 'true';
        cell.rolledBack.textContent = 'Rolled back: the session is as it was before this run; '
          + 'what the run changed in its variables was undone.';
        cell.rolledBack.hidden = false;
      }
    }

    /** The current cell goes: its run is sent again, in a new cell. */
    discard() {
      if (!this.current) return;
      this.current.node.remove();
      this.current = null;
    }

    trim() {
      const view = this.output.element;
      let cells = view.querySelectorAll(':scope > .cell');
      while (cells.length > MAX_CELLS) {
        const oldest = cells[0];
        // A divider before it goes with it.
        while (view.firstChild && view.firstChild !== oldest) view.firstChild.remove();
        oldest.remove();
        cells = view.querySelectorAll(':scope > .cell');
      }
    }

    /**
     * A traceback link in a cell whose code is no longer the editor's: its
     * line is shown in the cell's own code, and true returned. False: the
     * editor's line is meant.
     */
    showLine(line, link, editorCode) {
      const node = link && link.closest('.cell');
      if (!node || !this.output.element.contains(node)) return false;
      const code = node.querySelector('.cell-code');
      if (!code || codes.get(node) === editorCode) return false;
      const target = code.children[line - 1];
      if (!target) return true;
      target.scrollIntoView({block: 'nearest'});
      target.classList.remove('is-flashing');
      void target.offsetWidth;   // restart the flash
      target.classList.add('is-flashing');
      setTimeout(() => target.classList.remove('is-flashing'), 1500);
      return true;
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {CellHistory});
})();
