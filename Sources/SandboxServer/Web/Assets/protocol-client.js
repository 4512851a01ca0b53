// PySandbox protocol v1 client for the browser: JSON-RPC 2.0 over one
// WebSocket (subprotocol pysandbox.v1), reconnecting with backoff; after the
// server's idle timeout, reconnecting only when asked (wake()).
// See protocol/PROTOCOL.md. No dependencies; loaded before editor.js.
'use strict';

/** A JSON-RPC error response ({code, message, data?}) to a request. */
class RpcError extends Error {
  constructor(error) {
    super(String(error && error.message || 'Unknown error'));
    this.name = 'RpcError';
    this.code = error && error.code;
    this.data = error && error.data;
  }
}

/** The connection closed before a request was answered. */
class ConnectionLostError extends Error {
  constructor() {
    super('The connection to the server was lost');
    this.name = 'ConnectionLostError';
  }
}

/**
 * One WebSocket to sandboxd, reopened whenever it drops. When the server
 * closes it for idleness (1000 "idle timeout"), the client stays closed in
 * state 'idle' until wake() (the user acts): an open page does not keep the
 * server's idle clock from running.
 *
 * Events (all CustomEvent, details in `event.detail`):
 * - `statechange` {state: 'connecting'|'connected'|'reconnecting'|'idle', retryInMs?}
 * - `initialized` the `initialize` result (limits, python, serverInfo, …),
 *   after every (re)connection.
 * - `sessionended` a `session/ended` notification's params {session, reason, message?}.
 */
class SandboxClient extends EventTarget {
  constructor({
    url = SandboxClient.defaultUrl(),
    subprotocol = 'pysandbox.v1',
    clientInfo = {name: 'pysandbox-web', version: '1'},
    minDelayMs = 500,
    maxDelayMs = 5000,
  } = {}) {
    super();
    Object.assign(this, {url, subprotocol, clientInfo, minDelayMs, maxDelayMs});
    this.state = 'connecting';
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();   // request id -> {resolve, reject, run?}
    this.runs = new Map();      // run id -> run record (see run())
    this.delayMs = minDelayMs;
    this.retryTimer = null;
    this.retryAt = 0;
  }

  /** The close that the server sends a connection idle for its --idle-timeout (PROTOCOL.md). */
  static isIdleClose(event) {
    return event.code === 1000 && event.reason === 'idle timeout';
  }

  /** ws: or wss: to /v1/ws on the page's own host and port. */
  static defaultUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/v1/ws`;
  }

  get connected() {
    return this.state === 'connected';
  }

  /** Opens the connection; from then on it is kept open. */
  start() {
    addEventListener('online', () => this.retryNow());
    this.open();
  }

  /** Skips the rest of the current backoff delay (not an idle close: that waits for wake()). */
  retryNow() {
    if (this.state === 'connected' || this.state === 'idle' || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /**
   * After an idle close, reconnects; resolves once connected (at once if it
   * is), rejects with ConnectionLostError if this attempt fails (the client
   * then reconnects with backoff as after any drop).
   */
  wake() {
    if (this.state === 'connected') return Promise.resolve();
    const settled = new Promise((resolve, reject) => {
      const watch = (event) => {
        const {state} = event.detail;
        if (state === 'connecting') return;
        this.removeEventListener('statechange', watch);
        if (state === 'connected') resolve();
        else reject(new ConnectionLostError());
      };
      this.addEventListener('statechange', watch);
    });
    if (this.state === 'idle') {
      this.setState('connecting');
      this.open();
    }
    return settled;
  }

  open() {
    this.retryTimer = null;
    let ws;
    try {
      ws = new WebSocket(this.url, this.subprotocol);
    } catch (err) {
      console.error('WebSocket failed', err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.setState('connected');
      this.request('initialize', {clientInfo: this.clientInfo}).then((result) => {
        this.delayMs = this.minDelayMs;   // a healthy connection resets the backoff
        this.dispatchEvent(new CustomEvent('initialized', {detail: result}));
      }, (err) => {
        if (!(err instanceof ConnectionLostError)) console.warn('initialize failed', err);
      });
    });
    ws.addEventListener('message', (event) => this.receive(event.data));
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      if (SandboxClient.isIdleClose(event)) {
        this.delayMs = this.minDelayMs;
        this.setState('idle');
      } else {
        this.scheduleReconnect();
      }
    });
  }

  scheduleReconnect() {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting', {retryInMs: delay});
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('statechange', {detail: {state, ...extra}}));
  }

  /** Every request in flight is answered with ConnectionLostError. */
  failPending() {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.runs.clear();
    for (const entry of pending) entry.reject(new ConnectionLostError());
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({jsonrpc: '2.0', ...message}));
    return true;
  }

  /** Sends a request; resolves with its result, rejects with RpcError or ConnectionLostError. */
  request(method, params, id = this.nextId++) {
    return new Promise((resolve, reject) => {
      if (!this.send({id, method, params})) {
        reject(new ConnectionLostError());
        return;
      }
      this.pending.set(id, {resolve, reject});
    });
  }

  notify(method, params) {
    return this.send({method, params});
  }

  /**
   * Starts a run. `params` are the `run` params; handlers get
   * onStatus({state, position?}), onOutput({stream, text, seq}) and
   * onDisplay({data, metadata?, seq}), the last two together strictly in
   * `seq` order (a display sits between the text printed before and after
   * it), and onStdinWanted({id}) when the program waits for input with
   * nothing to read (`run/stdinWanted`, after the output written before it).
   * Returns {id, done, sendStdin, sendEof, cancel}; `done` resolves with
   * the verdict.
   */
  run(params, {onStatus = () => {}, onOutput = () => {}, onDisplay = () => {}, onStdinWanted = () => {}} = {}) {
    const id = `run-${this.nextId++}`;
    const record = {onStatus, onOutput, onDisplay, onStdinWanted, nextSeq: 0, early: new Map()};
    this.runs.set(id, record);
    const done = this.request('run', params, id).then(
      (verdict) => { this.flushOutput(record, true); return verdict; },
      (err) => { this.flushOutput(record, true); throw err; },
    ).finally(() => this.runs.delete(id));
    return {
      id,
      done,
      sendStdin: (data) => this.notify('run/stdin', {id, data}),
      sendEof: (data) => this.notify('run/stdin', data ? {id, data, eof: true} : {id, eof: true}),
      cancel: () => this.notify('$/cancelRequest', {id}),
    };
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (err) {
      console.warn('unreadable message from the server', data);
      return;
    }
    if (!message || typeof message !== 'object') return;
    if ('method' in message && !('id' in message)) {
      this.notification(message.method, message.params || {});
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) {
      if (message.error) console.warn('server error', message.error);
      return;
    }
    this.pending.delete(message.id);
    if (message.error) entry.reject(new RpcError(message.error));
    else entry.resolve(message.result);
  }

  notification(method, params) {
    if (method === 'session/ended') {
      this.dispatchEvent(new CustomEvent('sessionended', {detail: params}));
      return;
    }
    const record = this.runs.get(params.id);
    if (!record) return;
    if (method === 'run/status') {
      record.onStatus(params);
    } else if (method === 'run/output' || method === 'run/display') {
      // Output and displays share one seq: both wait here for their turn.
      record.early.set(params.seq, {method, params});
      this.flushOutput(record, false);
    } else if (method === 'run/stdinWanted') {
      // The server sends it after the output written before the read, which has been delivered.
      record.onStdinWanted(params);
    }
  }

  /** Delivers buffered output and displays in seq order; at the end, whatever is left too. */
  flushOutput(record, final) {
    while (record.early.has(record.nextSeq)) {
      const item = record.early.get(record.nextSeq);
      record.early.delete(record.nextSeq);
      record.nextSeq += 1;
      this.deliver(record, item);
    }
    if (final && record.early.size) {
      const rest = [...record.early.keys()].sort((a, b) => a - b);
      for (const seq of rest) this.deliver(record, record.early.get(seq));
      record.early.clear();
    }
  }

  deliver(record, {method, params}) {
    if (method === 'run/display') record.onDisplay(params);
    else record.onOutput(params);
  }
}

window.PySandbox = {SandboxClient, RpcError, ConnectionLostError};
