// The PySandbox web editor: wires the code editor, the run controls, the
// output pane, the stdin line and the status line to a SandboxClient.
// Loaded last; uses protocol-client.js, code-editor.js, output-view.js and
// session-control.js.
'use strict';

(() => {
  const {
    SandboxClient, RpcError, ConnectionLostError, createCodeEditor, OutputView, SessionControl,
  } = window.PySandbox;

  const STORE = {
    code: 'pysandbox.code', timeout: 'pysandbox.timeoutSeconds', cpuTime: 'pysandbox.cpuTimeSeconds',
    memory: 'pysandbox.memoryMb', returnFiles: 'pysandbox.returnFiles', keepVariables: 'pysandbox.keepVariables',
  };
  const MIN_TIMEOUT_MS = 1;
  const MIN_CPU_TIME_MS = 1;
  const SAMPLE = [
    '# Welcome to PySandbox. Run with the button or Ctrl+Enter (Cmd+Enter on a Mac).',
    'name = input("What is your name? ")',
    'print(f"Hello, {name}!")',
    '',
    'for n in range(1, 6):',
    '    print(n, n * n)',
    '',
  ].join('\n');
  const STATUS_LABELS = {
    ok: 'ok', error: 'error', timeout: 'time limit', memoryLimit: 'memory limit',
    outputLimit: 'output limit', killed: 'killed', cancelled: 'cancelled', internalError: 'internal error',
  };
  const OMITTED_REASONS = {
    noMatch: 'matched no file', symlink: 'a symbolic link, not followed', notRegularFile: 'not a regular file',
    overLimit: 'over the limit of what a run may return', unreadable: 'could not be read',
    notCollected: 'not collected: the program did not end by itself',
  };
  const SIGNALS = {
    1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
    9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $('connection'),
    serverInfo: $('server-info'),
    notice: $('editor-notice'),
    editorHost: $('editor-host'),
    code: $('code'),
    run: $('run'),
    stop: $('stop'),
    shortcut: $('run-shortcut'),
    timeout: $('timeout'),
    cpuTime: $('cpu-time'),
    memory: $('memory'),
    returnField: $('return-field'),
    returnFiles: $('return-files'),
    limitsHint: $('limits-hint'),
    status: $('status'),
    statusLabel: $('status-label'),
    statusDetail: $('status-detail'),
    limitsNote: $('limits-note'),
    files: $('files'),
    output: $('output'),
    stdin: $('stdin'),
    eof: $('send-eof'),
    clear: $('clear-output'),
    sessionControls: $('session-controls'),
    keepVariables: $('keep-variables'),
    restart: $('restart'),
    sessionLine: $('session-line'),
  };

  const storage = {
    get(key) { try { return localStorage.getItem(key); } catch (err) { return null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch (err) { /* full or disabled */ } },
  };

  // ------------------------------------------------------------- formatting

  function formatMs(ms) {
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    const seconds = Math.round((ms % 60000) / 1000);
    return `${Math.floor(ms / 60000)} min${seconds ? ` ${seconds} s` : ''}`;
  }

  function formatKb(kb) {
    if (kb < 1024) return `${kb} KiB`;
    return `${(kb / 1024).toFixed(1)} MiB`;
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    return formatKb(Math.round(bytes / 1024));
  }

  // ------------------------------------------------------------ status line

  /** state: idle | starting | queued | running | done | lost | refused */
  function setStatus(state, label, detail = '', verdict = null) {
    ui.status.dataset.state = state;
    for (const key of ['exitCode', 'signal', 'errorCode', 'limit']) delete ui.status.dataset[key];
    ui.status.title = '';
    if (verdict) ui.status.dataset.verdict = verdict;
    else delete ui.status.dataset.verdict;
    ui.statusLabel.textContent = label;
    ui.statusDetail.textContent = detail;
  }

  /** `inSession`: a session's run has no memory figures of its own (PROTOCOL.md §4.8). */
  function showVerdict(v, {inSession = false} = {}) {
    const parts = [];
    if (v.exitCode !== null && v.exitCode !== undefined) parts.push(`exit code ${v.exitCode}`);
    else if (v.signal !== null && v.signal !== undefined) {
      parts.push(`signal ${v.signal}${SIGNALS[v.signal] ? ` (${SIGNALS[v.signal]})` : ''}`);
    } else parts.push(v.wallMs === 0 && v.maxRssKb === 0 ? 'never started' : 'no exit status');
    parts.push(`wall ${formatMs(v.wallMs)}`, `CPU ${formatMs(v.cpuMs)}`);
    if (!inSession) parts.push(`peak memory ${formatKb(v.maxRssKb)}`);
    if (v.queuedMs >= 100) parts.push(`queued ${formatMs(v.queuedMs)}`);
    if (v.truncated) parts.push(`output cut at ${formatBytes(v.stdoutBytes + v.stderrBytes + (v.displayBytes || 0))}`);
    if (v.message) parts.push(v.message);
    // A timeout says which limit ended it: the wall clock's or the CPU time's.
    const label = v.status === 'timeout' && v.limit === 'cpu' ? 'CPU time limit' : STATUS_LABELS[v.status] || v.status;
    setStatus('done', label, parts.join(' · '), v.status);
    if (v.limit) ui.status.dataset.limit = v.limit;
    ui.status.dataset.exitCode = v.exitCode ?? '';
    ui.status.dataset.signal = v.signal ?? '';
    ui.status.title = v.peakMemoryKb != null ? `memory of the whole run: ${formatKb(v.peakMemoryKb)}` : '';
  }

  // --------------------------------------------------------- returned files

  let fileUrls = [];   // the Blob URLs of the last run's files, let go at the next

  function clearFiles() {
    for (const url of fileUrls) URL.revokeObjectURL(url);
    fileUrls = [];
    ui.files.replaceChildren();
    ui.files.hidden = true;
  }

  /** The verdict's files as download links, and a line for each that did not come back. */
  function showFiles(v) {
    clearFiles();
    if (!v.files && !v.omittedFiles) return;
    const list = document.createElement('ul');
    list.className = 'file-list';
    for (const file of v.files || []) list.append(fileItem(file));
    for (const omitted of v.omittedFiles || []) list.append(omittedItem(omitted));
    ui.files.append(list);
    ui.files.hidden = false;
  }

  function fileItem(file) {
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
    fileUrls.push(url);
    const link = document.createElement('a');
    link.className = 'file-link';
    link.href = url;
    link.download = file.path.split('/').pop();
    link.textContent = file.path;
    link.dataset.path = file.path;
    const size = document.createElement('span');
    size.className = 'file-size';
    size.textContent = formatBytes(bytes.length);
    item.append(link, ' ', size);
    return item;
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

  function bytesFromBase64(base64) {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /** The field's comma-separated glob patterns, when the server returns files. */
  function returnPatterns() {
    if (ui.returnField.hidden) return [];
    return ui.returnFiles.value.split(',').map((pattern) => pattern.trim()).filter(Boolean);
  }

  // ------------------------------------------------------------ connection

  let countdown = null;

  /** The indicator: its words are announced; the countdown to the next try is not. */
  function showConnection({state}) {
    ui.connection.dataset.state = state;
    const words = {
      connected: 'connected', connecting: 'connecting…', reconnecting: 'reconnecting…',
      idle: 'idle — reconnects when you run',   // the server closed the idle connection
    };
    const text = document.createElement('span');
    text.textContent = words[state] || state;
    const retry = document.createElement('span');
    retry.className = 'retry';
    retry.setAttribute('aria-hidden', 'true');
    ui.connection.replaceChildren(text, retry);
    clearInterval(countdown);
    if (state === 'reconnecting') {
      const tick = () => {
        const seconds = Math.max(0, (client.retryAt - Date.now()) / 1000);
        retry.textContent = seconds >= 0.05 ? ` retry in ${seconds.toFixed(1)} s` : '';
      };
      tick();
      countdown = setInterval(tick, 100);
      refusalReason().then((reason) => {
        if (reason && client.state === 'reconnecting') text.textContent = reason;
      });
    }
    updateControls();
  }

  // ---------------------------------------------------------------- limits

  const limits = {timeoutMs: null, cpuTimeMs: null, memoryMb: null, maxCodeBytes: null};

  function applyLimits(result) {
    const l = result.limits || {};
    limits.timeoutMs = l.timeoutMs || null;
    limits.cpuTimeMs = l.cpuTimeMs || null;
    limits.memoryMb = l.memoryMb || null;
    limits.maxCodeBytes = l.maxCodeBytes || null;
    if (limits.timeoutMs) {
      ui.timeout.min = String(MIN_TIMEOUT_MS / 1000);
      ui.timeout.max = String(limits.timeoutMs.max / 1000);
      ui.timeout.placeholder = String(limits.timeoutMs.default / 1000);
      setTimeoutSeconds(ui.timeout.value === '' ? NaN : parseFloat(ui.timeout.value));
    }
    if (limits.cpuTimeMs) {
      ui.cpuTime.min = String(MIN_CPU_TIME_MS / 1000);
      ui.cpuTime.max = String(limits.cpuTimeMs.max / 1000);
      ui.cpuTime.placeholder = String(limits.cpuTimeMs.default / 1000);
      ui.cpuTime.title = `${MIN_CPU_TIME_MS / 1000}–${limits.cpuTimeMs.max / 1000} s of CPU, all the program's `
        + `processes together; default ${limits.cpuTimeMs.default / 1000} s`;
      setCpuTimeSeconds(ui.cpuTime.value === '' ? NaN : parseFloat(ui.cpuTime.value));
    }
    if (limits.memoryMb) {
      ui.memory.min = String(limits.memoryMb.min ?? 1);
      ui.memory.max = String(limits.memoryMb.max);
      ui.memory.placeholder = String(limits.memoryMb.default);
      setMemoryMb(ui.memory.value === '' ? NaN : parseFloat(ui.memory.value));
    }
    if (limits.timeoutMs && limits.memoryMb) {
      const cpu = limits.cpuTimeMs ? `, CPU ${limits.cpuTimeMs.max / 1000} s` : '';
      ui.limitsHint.textContent = `max ${limits.timeoutMs.max / 1000} s${cpu}, ${limits.memoryMb.max} MiB`;
      ui.timeout.title = `${MIN_TIMEOUT_MS / 1000}–${limits.timeoutMs.max / 1000} s; `
        + `default ${limits.timeoutMs.default / 1000} s`;
      ui.memory.title = `${limits.memoryMb.min ?? 1}–${limits.memoryMb.max} MiB; default ${limits.memoryMb.default} MiB`;
    }
    // Without a cgroup per run, the memory and CPU time limits are weaker.
    ui.limitsNote.hidden = !(result.capabilities && result.capabilities.cgroups === false);
    // Servers before protocol 0.7.0 refuse returnFiles.
    ui.returnField.hidden = !(result.capabilities && result.capabilities.returnFiles);
    if (l.maxReturnBytes) {
      ui.returnFiles.title = 'Glob patterns, comma-separated, of files to download after the run '
        + `(up to ${formatBytes(l.maxReturnBytes)} together)`;
    }
    const python = result.python && result.python.version;
    const server = result.serverInfo;
    ui.serverInfo.textContent = [python && `Python ${python}`, server && `${server.name} ${server.version}`]
      .filter(Boolean).join(' · ');
  }

  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  /** Puts `seconds`, within the limit, into a field of seconds; returns milliseconds. */
  function setSeconds(input, limit, minMs, seconds) {
    const max = limit ? limit.max : Infinity;
    const fallback = limit ? limit.default : 10000;
    const ms = Number.isFinite(seconds) && seconds > 0 ? clamp(Math.round(seconds * 1000), minMs, max) : fallback;
    input.value = String(ms / 1000);
    return ms;
  }

  const setTimeoutSeconds = (seconds) => setSeconds(ui.timeout, limits.timeoutMs, MIN_TIMEOUT_MS, seconds);
  const setCpuTimeSeconds = (seconds) => setSeconds(ui.cpuTime, limits.cpuTimeMs, MIN_CPU_TIME_MS, seconds);

  function setMemoryMb(mb) {
    const max = limits.memoryMb ? limits.memoryMb.max : Infinity;
    const fallback = limits.memoryMb ? limits.memoryMb.default : 256;
    const min = limits.memoryMb?.min ?? 1;
    const value = Number.isFinite(mb) && mb > 0 ? clamp(Math.round(mb), min, max) : fallback;
    ui.memory.value = String(value);
    return value;
  }

  ui.timeout.addEventListener('change', () => {
    setTimeoutSeconds(parseFloat(ui.timeout.value));
    storage.set(STORE.timeout, ui.timeout.value);
  });
  ui.cpuTime.addEventListener('change', () => {
    setCpuTimeSeconds(parseFloat(ui.cpuTime.value));
    storage.set(STORE.cpuTime, ui.cpuTime.value);
  });
  ui.memory.addEventListener('change', () => {
    setMemoryMb(parseFloat(ui.memory.value));
    storage.set(STORE.memory, ui.memory.value);
  });
  ui.returnFiles.addEventListener('change', () => storage.set(STORE.returnFiles, ui.returnFiles.value));

  /** timeoutMs, cpuTimeMs and memoryMb for a run, left out when they are the server's defaults
   *  (cpuTimeMs also when the server does not offer it). */
  function runLimits() {
    const params = {};
    const timeoutMs = setTimeoutSeconds(parseFloat(ui.timeout.value));
    const memoryMb = setMemoryMb(parseFloat(ui.memory.value));
    if (!limits.timeoutMs || timeoutMs !== limits.timeoutMs.default) params.timeoutMs = timeoutMs;
    if (limits.cpuTimeMs) {
      const cpuTimeMs = setCpuTimeSeconds(parseFloat(ui.cpuTime.value));
      if (cpuTimeMs !== limits.cpuTimeMs.default) params.cpuTimeMs = cpuTimeMs;
    }
    if (!limits.memoryMb || memoryMb !== limits.memoryMb.default) params.memoryMb = memoryMb;
    return params;
  }

  // ------------------------------------------------------------------ access

  /** A token in the page's address (?token=…) becomes a cookie that the
   *  WebSocket carries, and leaves the address bar (and screenshots). */
  function adoptToken() {
    const params = new URLSearchParams(location.search);
    const token = params.get('token');
    if (!token) return;
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = `pysandbox_token=${encodeURIComponent(token)}; path=/v1; SameSite=Strict${secure}`;
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  }

  /** Why the WebSocket keeps failing, when the server says (browsers hide the upgrade's status). */
  async function refusalReason() {
    try {
      const response = await fetch('/v1/info', {cache: 'no-store'});
      if (response.status === 401) return 'token needed: open this page as /?token=…';
      if (response.status === 403) return 'this page’s origin is not allowed';
    } catch (err) {
      // The server is down: reconnecting says enough.
    }
    return null;
  }

  // ------------------------------------------------------------------ runs

  adoptToken();
  const client = new SandboxClient();
  let editor = null;
  let output = null;
  let current = null;   // {handle, stdinOpen, stopping}
  let waking = false;   // reconnecting after an idle close, for a run
  const sessions = new SessionControl(client, {
    controls: ui.sessionControls, toggle: ui.keepVariables, restart: ui.restart, line: ui.sessionLine,
  }, {storage, storageKey: STORE.keepVariables, formatMs, onChange: () => updateControls()});

  function updateControls() {
    const active = Boolean(current);
    const reachable = client.connected || client.state === 'idle';
    ui.run.disabled = active || waking || Boolean(sessions.opening) || !reachable || !editor;
    ui.stop.disabled = !active || current.stopping;
    const stdinOpen = active && current.stdinOpen;
    ui.stdin.disabled = !stdinOpen;
    ui.eof.disabled = !stdinOpen;
    ui.stdin.placeholder = stdinOpen ? 'Enter sends a line · Ctrl+D ends input' : 'input for a running program';
    document.body.classList.toggle('is-running', active);
  }

  /** After the server's idle timeout the page reconnects only when the user acts. */
  async function wakeIfIdle() {
    if (client.state !== 'idle') return client.connected;
    waking = true;
    updateControls();
    try {
      await client.wake();
      return true;
    } catch (err) {
      return false;   // the indicator says reconnecting…
    } finally {
      waking = false;
      updateControls();
    }
  }

  /** The run's session (null without Keep variables): opened now if there is none. A session's
   *  memory is its own (session/open), not each run's. Says why on the status line when it fails. */
  async function runSession(params) {
    const {memoryMb, ...rest} = params;
    try {
      const session = await sessions.sessionForRun(memoryMb === undefined ? {} : {memoryMb});
      return {session, params: session ? {...rest, session} : params};
    } catch (err) {
      if (!(err instanceof ConnectionLostError)) console.warn('session/open failed', err);
      setStatus('refused', 'not run', `no session could be opened: ${err.message}`);
      if (err instanceof RpcError) ui.status.dataset.errorCode = String(err.code);
      return null;
    }
  }

  async function startRun({retried = false} = {}) {
    if (current || waking || sessions.opening || !editor) return;
    if (!(await wakeIfIdle()) || current) return;
    const code = editor.getValue();
    if (limits.maxCodeBytes && new TextEncoder().encode(code).length > limits.maxCodeBytes) {
      setStatus('refused', 'not run', `the code is larger than the server's limit of ${formatBytes(limits.maxCodeBytes)}`);
      return;
    }
    const patterns = returnPatterns();
    // At once, before the session is opened: the last run's verdict is no longer the page's state.
    setStatus('starting', 'starting…');
    const planned = await runSession({code, interactive: true, ...runLimits(),
      ...(patterns.length ? {returnFiles: patterns} : {})});
    if (!planned || current) return;
    const {session, params} = planned;
    output.clear();
    clearFiles();
    setStatus('starting', 'starting…');
    let retry = false;
    const handle = client.run(params, {
      onStatus({state, position}) {
        if (state === 'queued') {
          setStatus('queued', position != null ? `queued (position ${position})` : 'queued');
        } else if (state === 'running') {
          setStatus('running', current && current.stopping ? 'stopping…' : 'running…');
        }
      },
      onOutput({stream, text}) { output.write(stream, text); },
      onDisplay({data, metadata}) { output.display({data, metadata}); },
    });
    current = {handle, stdinOpen: true, stopping: false};
    updateControls();
    // The output is complete (finish()) before the status line says the run is over.
    try {
      const verdict = await handle.done;
      if (verdict.truncated) {
        // Where the output stops, say why: a display too large to send leaves no other trace.
        if (!output.endsLine()) output.note('\n');
        output.note('[output limit reached: the rest of the output and displays were not sent]\n');
      }
      output.finish();
      showVerdict(verdict, {inSession: Boolean(session)});
      showFiles(verdict);
    } catch (err) {
      if (err instanceof ConnectionLostError) {
        if (!output.endsLine()) output.note('\n');
        output.note('[connection lost: the server stops a run when its connection closes]\n');
        output.finish();
        setStatus('lost', 'lost', 'the connection closed during the run; its result is unknown');
      } else if (!retried && sessions.runRefused(err, session)) {
        // The session ended just before the run reached it: once more, in a new one.
        retry = true;
      } else if (err instanceof RpcError) {
        output.finish();
        setStatus('refused', 'not run', err.message);
        ui.status.dataset.errorCode = String(err.code);
      } else {
        console.error(err);
        output.finish();
        setStatus('refused', 'not run', String(err && err.message || err));
      }
    } finally {
      current = null;
      updateControls();
    }
    if (retry) await startRun({retried: true});
  }

  function stopRun() {
    if (!current || current.stopping) return;
    current.stopping = true;
    current.handle.cancel();
    if (ui.status.dataset.state === 'running') ui.statusLabel.textContent = 'stopping…';
    updateControls();
  }

  function sendLine() {
    if (!current || !current.stdinOpen) return;
    const line = `${ui.stdin.value}\n`;
    current.handle.sendStdin(line);
    output.echo(line);
    ui.stdin.value = '';
  }

  function sendEof() {
    if (!current || !current.stdinOpen) return;
    const rest = ui.stdin.value;
    current.handle.sendEof(rest);
    if (rest) output.echo(rest);
    output.note(output.endsLine() ? '[EOF]\n' : ' [EOF]\n');
    ui.stdin.value = '';
    current.stdinOpen = false;
    updateControls();
    if (editor) editor.focus();
  }

  ui.run.addEventListener('click', () => startRun());
  ui.stop.addEventListener('click', () => stopRun());
  ui.eof.addEventListener('click', () => sendEof());
  ui.clear.addEventListener('click', () => { if (!current) output.clear(); });
  ui.stdin.addEventListener('input', () => wakeIfIdle());
  ui.stdin.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      sendLine();
    } else if ((event.key === 'd' || event.key === 'D') && event.ctrlKey && !event.altKey) {
      event.preventDefault();
      sendEof();
    }
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.defaultPrevented) {
      event.preventDefault();
      startRun();
    }
  });

  client.addEventListener('statechange', (event) => showConnection(event.detail));
  client.addEventListener('initialized', (event) => {
    applyLimits(event.detail);
    sessions.configure(event.detail);
  });

  // ------------------------------------------------------------------ start

  async function main() {
    const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
    ui.shortcut.textContent = isMac ? '⌘ Enter' : 'Ctrl+Enter';
    output = new OutputView(ui.output, {onGoToLine: (line) => editor && editor.goToLine(line)});
    setStatus('idle', 'ready', 'nothing run yet');
    const storedTimeout = storage.get(STORE.timeout);
    const storedCpuTime = storage.get(STORE.cpuTime);
    const storedMemory = storage.get(STORE.memory);
    const storedReturnFiles = storage.get(STORE.returnFiles);
    if (storedTimeout !== null) ui.timeout.value = storedTimeout;
    if (storedCpuTime !== null) ui.cpuTime.value = storedCpuTime;
    if (storedMemory !== null) ui.memory.value = storedMemory;
    if (storedReturnFiles !== null) ui.returnFiles.value = storedReturnFiles;
    client.start();

    const saved = storage.get(STORE.code);
    ui.code.value = saved !== null ? saved : SAMPLE;
    const result = await createCodeEditor(ui.code, {onRun: () => startRun()});
    editor = result.editor;
    document.body.dataset.editor = editor.kind;
    ui.editorHost.classList.remove('is-loading');
    if (result.problem === 'missing') {
      ui.notice.textContent = 'CodeMirror is not installed on the server (apt install libjs-codemirror); '
        + 'using a plain editor.';
      ui.notice.hidden = false;
    } else if (result.problem) {
      ui.notice.textContent = `Parts of CodeMirror could not be loaded (${result.problem.join(', ')}); `
        + 'the editor works without them.';
      ui.notice.hidden = false;
    }

    let saveTimer = null;
    const save = () => { clearTimeout(saveTimer); saveTimer = null; storage.set(STORE.code, editor.getValue()); };
    editor.onChange(() => { clearTimeout(saveTimer); saveTimer = setTimeout(save, 300); });
    addEventListener('pagehide', () => { if (saveTimer) save(); });
    document.addEventListener('visibilitychange', () => { if (saveTimer && document.hidden) save(); });
    updateControls();
    editor.refresh();
  }

  main();
})();
