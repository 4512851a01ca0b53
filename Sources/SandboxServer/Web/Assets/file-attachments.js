// Files sent with each run (the run's `files`, PROTOCOL.md §4.2): chosen
// with a file chooser, listed with their sizes, removable. A file that is
// UTF-8 text goes as text, any other as {"base64": …} (servers since 0.7.0,
// `capabilities.binaryFiles`). The whole run must fit in one message of
// `limits.maxMessageBytes`: a file that would not fit is not attached, and
// the list says why. Loaded before editor.js.
'use strict';

(() => {
  const RESERVED = 'main.py';   // the code's own name in the working directory
  // Room left in a message for the JSON-RPC envelope and the run's other params.
  const ENVELOPE_BYTES = 1024;
  const utf8 = new TextEncoder();

  /** The bytes as standard, padded base64 (in slices: String.fromCharCode takes only so many arguments). */
  function base64FromBytes(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  // Control characters that text files do not have (JSON would also send each as six bytes).
  const BINARY_CONTROLS = /[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]/;

  /** `bytes` as the text it is, when it is UTF-8 text (a BOM kept), else null. */
  function textOf(bytes) {
    let text;
    try {
      text = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes);
    } catch (err) {
      return null;
    }
    return BINARY_CONTROLS.test(text) ? null : text;
  }

  /**
   * The attachments and their part of the page: the chooser (`input`), the
   * list (`list`) and a line for what went wrong (`message`).
   */
  class FileAttachments {
    /** `codeBytes()`: the size of the code, which shares the run's message with the files. */
    constructor({input, list, message}, {formatBytes, codeBytes = () => 0, onChange = () => {}}) {
      Object.assign(this, {input, list, message, formatBytes, codeBytes, onChange});
      this.files = new Map();   // name -> {name, size, content, encodedBytes}
      this.maxMessageBytes = null;
      this.binary = true;
      input.addEventListener('change', () => {
        const chosen = [...input.files];
        input.value = '';   // choosing the same file again is a change too
        this.add(chosen);
      });
      list.addEventListener('click', (event) => {
        const button = event.target.closest('button[data-remove]');
        if (button) this.remove(button.dataset.remove);
      });
      this.show();
    }

    /** After each `initialize`: the message limit, and whether binary files are taken. */
    configure(initializeResult) {
      const limits = initializeResult.limits || {};
      const capabilities = initializeResult.capabilities || {};
      this.maxMessageBytes = limits.maxMessageBytes || null;
      this.binary = Boolean(capabilities.binaryFiles);
    }

    /** The most bytes the files may take in a run's message, next to `codeBytes` of code. */
    budget(codeBytes) {
      if (!this.maxMessageBytes) return Infinity;
      return this.maxMessageBytes - ENVELOPE_BYTES - codeBytes;
    }

    encodedTotal(except = null) {
      let total = 0;
      for (const file of this.files.values()) if (file.name !== except) total += file.encodedBytes;
      return total;
    }

    /** Reads and attaches the chosen files, in order; says which were not attached and why. */
    async add(chosen) {
      const problems = [];
      const codeBytes = this.codeBytes();
      for (const file of chosen) {
        const problem = await this.attach(file, codeBytes);
        if (problem) problems.push(problem);
      }
      this.say(problems.join(' '));
      this.show();
    }

    async attach(file, codeBytes) {
      if (file.name === RESERVED) return `${RESERVED} was not attached: it is the name of the code itself; rename the file.`;
      let bytes;
      try {
        bytes = new Uint8Array(await file.arrayBuffer());
      } catch (err) {
        return `${file.name} could not be read (${err.message}).`;
      }
      const text = textOf(bytes);
      if (text === null && !this.binary) {
        return `${file.name} was not attached: it is not UTF-8 text, and this server takes only text files.`;
      }
      const content = text !== null ? text : {base64: base64FromBytes(bytes)};
      const encodedBytes = utf8.encode(JSON.stringify(content)).length + utf8.encode(JSON.stringify(file.name)).length + 2;
      const budget = this.budget(codeBytes);
      if (this.encodedTotal(file.name) + encodedBytes > budget) {
        const room = Math.max(0, budget - this.encodedTotal(file.name));
        const sent = text === null ? `, ${this.formatBytes(encodedBytes)} as base64` : '';
        return `${file.name} (${this.formatBytes(bytes.length)}${sent}) was not attached: a run's code and files `
          + `must fit in one message of ${this.formatBytes(this.maxMessageBytes)} (this server's limit), `
          + `and ${this.formatBytes(room)} of it is left.`;
      }
      this.files.set(file.name, {name: file.name, size: bytes.length, binary: text === null, content, encodedBytes});
      return null;
    }

    remove(name) {
      this.files.delete(name);
      this.say('');
      this.show();
    }

    /** The run's `files` param, or null when nothing is attached. */
    param() {
      if (!this.files.size) return null;
      const files = {};
      for (const file of this.files.values()) files[file.name] = file.content;
      return files;
    }

    say(text) {
      this.message.textContent = text;
      this.message.hidden = !text;
    }

    show() {
      const items = [...this.files.values()].map((file) => {
        const item = document.createElement('li');
        item.className = 'attached-file';
        item.dataset.name = file.name;
        const name = document.createElement('span');
        name.className = 'attached-name';
        name.textContent = file.name;
        const size = document.createElement('span');
        size.className = 'file-size';
        size.textContent = `${this.formatBytes(file.size)}${file.binary ? ', binary' : ''}`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'attached-remove';
        remove.dataset.remove = file.name;
        remove.title = `Remove ${file.name}: it is no longer sent with the run`;
        remove.setAttribute('aria-label', `Remove ${file.name}`);
        remove.textContent = '×';
        item.append(name, ' ', size, remove);
        return item;
      });
      this.list.replaceChildren(...items);
      this.list.hidden = !items.length;
      this.onChange();
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {FileAttachments});
})();
