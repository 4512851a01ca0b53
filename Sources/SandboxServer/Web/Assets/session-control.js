// "Keep variables": the editor's protocol session (PROTOCOL.md §4.8–4.10).
// With the toggle on, runs go to one session, opened at the first run and
// reopened at the run after it ended, so names persist between runs as in a
// notebook. Restart closes it; the session line says what state it is in
// and, when it ended by itself, why, and that the next run starts afresh.
// Loaded after protocol-client.js, before editor.js.
'use strict';

(() => {
  const {RpcError} = window.PySandbox;
  const SESSION_ENDED = -32007;

  /** Two package lists name the same set when they hold the same requirements, in any order. */
  function samePackages(a, b) {
    const key = (list) => JSON.stringify([...(list || [])].sort());
    return key(a) === key(b);
  }

  /** Why a session ended, in words; `limits` are the session's own, when known. */
  function endedReason(reason, limits, formatMs) {
    const words = {
      idleTimeout: () => `no run for ${limits ? formatMs(limits.idleTimeoutMs) : 'too long'} (its idle timeout)`,
      memoryLimit: () => `its programs reached its memory limit${limits ? ` of ${limits.memoryMb} MiB` : ''}`,
      cpuLimit: () => `it used up its CPU time${limits ? ` of ${formatMs(limits.cpuTimeMs)}` : ''}`,
      crashed: () => 'its Python interpreter ended itself (os._exit or a crash)',
      killed: () => 'a run did not stop when interrupted, so the session was killed',
      shutdown: () => 'the server is shutting down',
      closed: () => 'it was closed',
      connection: () => 'the connection to the server was lost, and a connection’s sessions end with it',
    };
    return (words[reason] || (() => reason || 'for a reason the server did not give'))();
  }

  /**
   * The toggle, the Restart button and the session line, and the session
   * they stand for. editor.js asks sessionForRun() before each run and
   * passes refusals to runRefused().
   */
  class SessionControl {
    constructor(client, {controls, toggle, restart, line}, {storage, storageKey, formatMs, onChange = () => {}}) {
      Object.assign(this, {client, controls, toggle, restart, line, storage, storageKey, formatMs, onChange});
      this.available = false;
      this.session = null;        // the open session's id
      this.limits = null;         // its limits, from session/open
      this.opening = null;        // the session/open promise while it is in flight
      this.ended = null;          // {reason, message?} of the session that ended last
      this.restarted = false;     // the last session was closed with Restart
      this.packages = [];         // the open session's packages (session/open's)
      this.packagesChanged = false;   // it replaced one opened with other packages

      this.toggle.checked = storage.get(storageKey) === 'true';
      this.toggle.addEventListener('change', () => this.toggled());
      this.restart.addEventListener('click', () => this.restartSession());
      client.addEventListener('sessionended', (event) => {
        const {session, reason, message} = event.detail;
        if (session === this.session) this.endedBy(reason, message);
      });
      // A connection's sessions end with it: after any drop, ours is gone and
      // the reconnected page starts a new one. (The server does not close a
      // connection with a session open for idleness: the session's own idle
      // timeout ends it first.)
      client.addEventListener('statechange', (event) => {
        if (this.session && event.detail.state !== 'connected') this.endedBy('connection');
      });
      // Shown by configure(), once the server says it has sessions.
    }

    /** Keep variables on, on a server that offers sessions. */
    get enabled() {
      return this.available && this.toggle.checked;
    }

    /** After each `initialize`: servers before 0.8.0 and `--isolation exec` have no sessions. */
    configure(initializeResult) {
      this.available = Boolean(initializeResult.capabilities && initializeResult.capabilities.sessions);
      this.controls.hidden = !this.available;
      this.toggle.disabled = !this.available;
      this.show();
    }

    /**
     * The session a run goes to: null with the toggle off; the open one; or a
     * new one (`openParams`: session/open's memoryMb and packages). A session's
     * packages are fixed when it opens: when the Packages field names another
     * set, the open session is closed and a new one opened with them (the
     * session line says that the earlier variables are gone). Throws the
     * refusal of session/open (RpcError) or ConnectionLostError.
     */
    async sessionForRun(openParams = {}) {
      if (!this.enabled) return null;
      if (this.session && !samePackages(openParams.packages, this.packages)) {
        await this.close();
        this.packagesChanged = true;
      } else if (this.session) {
        this.packagesChanged = false;
      }
      if (this.session) return this.session;
      if (!this.opening) {
        this.opening = this.open(openParams);
        this.show();   // "opening…"
      }
      try {
        return await this.opening;
      } finally {
        this.opening = null;
        this.show();
      }
    }

    async open(openParams) {
      const result = await this.client.request('session/open', openParams);
      if (!this.enabled) {
        // Turned off while it opened: nobody wants it.
        this.client.request('session/close', {session: result.session}).catch(() => {});
        return null;
      }
      Object.assign(this, {
        session: result.session, limits: result.limits || null, ended: null, restarted: false,
        packages: openParams.packages || [],
      });
      return this.session;
    }

    /** A run refused with -32007: its session had ended (the notification may still be on its way). */
    runRefused(err, session) {
      if (!(err instanceof RpcError) || err.code !== SESSION_ENDED || session !== this.session) return false;
      this.endedBy((err.data && err.data.reason) || 'closed');
      return true;
    }

    endedBy(reason, message) {
      this.session = null;
      this.packagesChanged = false;
      this.ended = {reason, message};
      this.restarted = false;
      this.show();
    }

    /** session/close; its running and queued runs end cancelled before the answer. */
    async close() {
      const session = this.session;
      if (!session) return;
      this.session = null;
      this.ended = null;
      this.show();
      try {
        await this.client.request('session/close', {session});
      } catch (err) {
        // Already ended, or the connection is gone: either way it is closed.
      }
    }

    async restartSession() {
      if (!this.session) return;
      await this.close();
      this.restarted = true;
      this.show();
    }

    toggled() {
      this.storage.set(this.storageKey, String(this.toggle.checked));
      this.ended = null;
      this.restarted = false;
      this.packagesChanged = false;
      if (!this.toggle.checked) this.close();
      this.show();
    }

    /** The Restart button and the session line, from the state. */
    show() {
      this.restart.disabled = !this.session;
      const {state, text} = this.describe();
      this.line.hidden = state === 'off';
      this.line.dataset.state = state;
      if (this.ended) this.line.dataset.reason = this.ended.reason;
      else delete this.line.dataset.reason;
      this.line.textContent = text;
      this.onChange();
    }

    describe() {
      const fresh = 'The next run starts a new session, without the earlier variables.';
      if (!this.enabled) return {state: 'off', text: ''};
      if (this.session) {
        const parts = [this.packagesChanged
          ? 'New session for the changed packages (the earlier variables are gone): variables are kept between runs'
          : 'Session open: variables are kept between runs'];
        if (this.packages.length) parts.push(`packages ${this.packages.join(' ')}`);
        if (this.limits) {
          const idle = this.formatMs(this.limits.idleTimeoutMs);
          parts.push(`memory ${this.limits.memoryMb} MiB`, `ends after ${idle} without a run`);
        }
        return {state: 'open', text: parts.join(' · ')};
      }
      if (this.opening) return {state: 'opening', text: 'Opening a session…'};
      if (this.ended) {
        const why = endedReason(this.ended.reason, this.limits, this.formatMs);
        const detail = this.ended.message ? ` (${this.ended.message})` : '';
        return {state: 'ended', text: `Session ended: ${why}${detail}. ${fresh}`};
      }
      if (this.restarted) return {state: 'restarted', text: `Session restarted. ${fresh}`};
      return {state: 'ready', text: 'Keep variables: the next run opens a session, and later runs see its names.'};
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {SessionControl});
})();
