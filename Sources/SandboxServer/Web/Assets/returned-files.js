// The files a run sent back (the verdict's `files` and `omittedFiles`, from
// the run's `returnFiles`): download links, and a line for each that did not
// come back and why. Loaded before editor.js.
'use strict';

(() => {
  const OMITTED_REASONS = {
    noMatch: 'matched no file', symlink: 'a symbolic link, not followed', notRegularFile: 'not a regular file',
    overLimit: 'over the limit of what a run may return', unreadable: 'could not be read',
    notCollected: 'not collected: the program did not end by itself', nameNotUTF8: 'its name is not UTF-8',
  };

  function bytesFromBase64(base64) {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  class ReturnedFiles {
    constructor(container, {formatBytes}) {
      Object.assign(this, {container, formatBytes});
      this.urls = [];   // the Blob URLs of the last run's files, let go at the next
    }

    clear() {
      for (const url of this.urls) URL.revokeObjectURL(url);
      this.urls = [];
      this.container.replaceChildren();
      this.container.hidden = true;
    }

    /** The verdict's files as download links, and a line for each that did not come back. */
    show(verdict) {
      this.clear();
      if (!verdict.files && !verdict.omittedFiles) return;
      const list = document.createElement('ul');
      list.className = 'file-list';
      for (const file of verdict.files || []) list.append(this.fileItem(file));
      for (const omitted of verdict.omittedFiles || []) list.append(omittedItem(omitted));
      this.container.append(list);
      this.container.hidden = false;
    }

    fileItem(file) {
      const item = document.createElement('li');
      item.className = 'file';
      let bytes;
      try {
        bytes = bytesFromBase64(file.base64);
      } catch (err) {
        return omittedItem({path: file.path, reason: 'unreadable'});
      }
      // Always application/octet-stream: a blob: URL has this page's origin, and
      // a returned .html opened rather than saved must never render there.
      const url = URL.createObjectURL(new Blob([bytes], {type: 'application/octet-stream'}));
      this.urls.push(url);
      const link = document.createElement('a');
      link.className = 'file-link';
      link.href = url;
      link.download = file.path.split('/').pop();
      link.textContent = file.path;
      link.dataset.path = file.path;
      const size = document.createElement('span');
      size.className = 'file-size';
      size.textContent = this.formatBytes(bytes.length);
      item.append(link, ' ', size);
      return item;
    }
  }

  function omittedItem({path, reason}) {
    const item = document.createElement('li');
    item.className = 'file omitted';
    item.dataset.reason = reason || '';
    const name = document.createElement('span');
    name.className = 'file-path';
    name.textContent = path;
    item.append(name);
    if (reason) item.append(` — ${OMITTED_REASONS[reason] || reason}`);
    return item;
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {ReturnedFiles});
})();
