// The "Packages" field: PyPI packages the code imports, as requirements
// separated by spaces or commas ("requests pandas>=2"), sent as `packages`
// with each run, or with session/open for the page's session (PROTOCOL.md,
// "Packages"). Remembered across reloads like the code; disabled, with a
// title saying why, on a server that installs no packages. Loaded before editor.js.
'use strict';

(() => {
  // PEP 440's comparison operators, longest first.
  const OPERATOR = /\s*(===|~=|==|!=|<=|>=|<|>)\s*/g;

  /**
   * The field's text as a list of requirement strings. Spaces and commas
   * separate requirements, except inside [extras] and around a version
   * specifier: "pandas >= 2, <3" is one requirement (pandas>=2,<3),
   * "requests, numpy" two. The server checks each and names a bad one.
   */
  function parseRequirements(text) {
    // Glue operators to their version and extras to their name: "pandas >= 2" is "pandas>=2".
    const glued = text.replace(OPERATOR, '$1').replace(/\s+\[/g, '[');
    const tokens = [];
    let current = '';
    let depth = 0;
    for (const ch of glued) {
      if (ch === '[') depth += 1;
      if (ch === ']') depth = Math.max(0, depth - 1);
      if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
        if (current) tokens.push(current);
        current = '';
      } else {
        current += ch;
      }
    }
    if (current) tokens.push(current);
    // A token that starts with an operator is another clause of the one before: "pandas>=2" ",<3".
    const requirements = [];
    for (const token of tokens) {
      if (/^[<>=!~]/.test(token) && requirements.length) {
        requirements[requirements.length - 1] += `,${token}`;
      } else {
        requirements.push(token);
      }
    }
    return requirements;
  }

  class PackageField {
    /** `field`: the label around `input`; the value is remembered under `storageKey`. */
    constructor({field, input}, {storage, storageKey, onChange = () => {}}) {
      Object.assign(this, {field, input, storage, storageKey, onChange});
      this.available = false;
      this.limits = null;
      // Remembered as it is typed, as the code is: a run started with Ctrl+Enter in the field fires no change.
      input.addEventListener('input', () => {
        storage.set(storageKey, input.value);
        this.onChange();
      });
    }

    /** The value from an earlier visit. */
    restore() {
      const stored = this.storage.get(this.storageKey);
      if (stored !== null) this.input.value = stored;
    }

    /** After each `initialize`: enabled only where the server installs packages (`capabilities.packages`). */
    configure(initializeResult) {
      const capabilities = initializeResult.capabilities || {};
      const limits = (initializeResult.limits || {}).packages || null;
      this.available = capabilities.packages === true;
      this.limits = limits;
      this.input.disabled = !this.available;
      this.field.dataset.state = this.available ? 'offered' : 'off';
      if (!this.available) {
        this.field.title = 'This server installs no packages: runs can import only what its Python has '
          + '(its operator turned packages off, or it predates them)';
        this.input.title = this.field.title;
        return;
      }
      const parts = ['PyPI packages the code imports, separated by spaces or commas (requests pandas>=2): '
        + 'the server installs them before the run, once; later runs with the same set reuse them.'];
      if (limits) {
        parts.push(`At most ${limits.maxRequirements} requirements, ${limits.maxPackagesPerSet} packages `
          + `and ${limits.maxSetMb} MiB a set, from ${limits.source === 'wheels' ? 'the operator’s wheels' : 'PyPI or the operator’s index'}.`);
        if (limits.allowed) parts.push(`Allowed here: ${limits.allowed.join(', ') || 'none'}.`);
      }
      this.field.title = '';
      this.input.title = parts.join(' ');
    }

    /** The requirements for the next run or session; none where the server installs no packages. */
    requirements() {
      return this.available ? parseRequirements(this.input.value) : [];
    }

    /** Two lists name the same set when they hold the same requirements in any order (the server
     *  also compares names as PyPI does; a session reopened for "Requests" vs "requests" is harmless). */
    static sameSet(a, b) {
      const key = (list) => JSON.stringify([...(list || [])].sort());
      return key(a) === key(b);
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {PackageField, parseRequirements});
})();
