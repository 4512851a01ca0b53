// The editor's questions to the server about its code: `code/complete` and
// `code/inspect` (PROTOCOL.md §4.12–4.13). From the session's live
// variables when Keep variables has one open, else from the code alone.
// At most one request of each kind is in flight: a newer one cancels the
// older ($/cancelRequest), whose caller then gets null, and is sent once the
// older is answered. Positions on the wire are Unicode code points; the
// editor's are UTF-16 code units: codePoints() and utf16Index() convert.
// Loaded after protocol-client.js, before completion.js and inspect-panel.js.
'use strict';

(() => {
  const {RpcError, ConnectionLostError} = window.PySandbox;

  /** How many code points the first `utf16Length` code units of `text` hold. */
  function codePoints(text, utf16Length = text.length) {
    let count = 0;
    for (let i = 0; i < utf16Length; i += 1) {
      const unit = text.charCodeAt(i);
      // A high surrogate followed by a low one is one code point.
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < utf16Length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i += 1;
      }
      count += 1;
    }
    return count;
  }

  /** The UTF-16 index in `text` of code point `points` (clamped to the text). */
  function utf16Index(text, points) {
    let index = 0;
    for (let n = 0; n < points && index < text.length; n += 1) {
      const unit = text.charCodeAt(index);
      const next = text.charCodeAt(index + 1);
      index += unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    }
    return index;
  }

  class CodeAssist {
    /** `session()`: the open session's id, or null (then names come from the code). */
    constructor(client, {session}) {
      Object.assign(this, {client, session});
      this.capabilities = {complete: false, inspect: false};
      this.lanes = new Map();   // method -> {inFlight: {id, superseded}, waiting: {params, resolve}}
      this.count = 0;
    }

    /** After each `initialize`: servers before 0.13.0 answer neither. */
    configure(initializeResult) {
      const caps = (initializeResult && initializeResult.capabilities) || {};
      this.capabilities = {complete: Boolean(caps.complete), inspect: Boolean(caps.inspect)};
    }

    /**
     * Asks `method` about `code` with the cursor at UTF-16 index `cursor`.
     * Resolves with the result, or with null when a newer question replaced
     * this one, the server has no such method, the connection is down, or
     * the server refused it (a rate limit, too many requests in flight):
     * an editor's hint is never worth an error. `wake`: reconnect after an
     * idle close first (the user asked; typing alone does not).
     */
    async ask(method, code, cursor, {extra = {}, wake = false} = {}) {
      const capability = method === 'code/complete' ? 'complete' : 'inspect';
      if (!this.capabilities[capability]) return null;
      if (this.client.state === 'idle' && wake) {
        try { await this.client.wake(); } catch (err) { return null; }
      }
      if (!this.client.connected) return null;
      const session = this.session();
      const params = {code, cursor: codePoints(code, cursor), ...(session ? {session} : {}), ...extra};
      const lane = this.lane(method);
      if (lane.waiting) lane.waiting.resolve(null);
      if (!lane.inFlight) return this.send(method, lane, params);
      return new Promise((resolve) => {
        lane.waiting = {params, resolve};
        if (!lane.inFlight.superseded) {
          lane.inFlight.superseded = true;
          this.client.notify('$/cancelRequest', {id: lane.inFlight.id});
        }
      });
    }

    lane(method) {
      if (!this.lanes.has(method)) this.lanes.set(method, {inFlight: null, waiting: null});
      return this.lanes.get(method);
    }

    async send(method, lane, params) {
      this.count += 1;
      const entry = {id: `${method.slice(5)}-${this.count}`, superseded: false};
      lane.inFlight = entry;
      let result = null;
      try {
        result = await this.client.request(method, params, entry.id);
      } catch (err) {
        if (!(err instanceof RpcError || err instanceof ConnectionLostError)) console.warn(method, err);
        else if (err instanceof RpcError && err.code === -32602) console.warn(method, err.message);
      } finally {
        lane.inFlight = null;
        const next = lane.waiting;
        lane.waiting = null;
        if (next) this.send(method, lane, next.params).then(next.resolve);
      }
      return entry.superseded ? null : result;
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {CodeAssist, codePoints, utf16Index});
})();
