// The PySandbox web editor: wires the code editor, the run controls, the
// output pane, the stdin line and the status line to a SandboxClient.
// Loaded last; uses protocol-client.js, code-editor.js, output-view.js, cell-history.js,
// session-control.js, limit-fields.js, file-attachments.js, returned-files.js, package-field.js, run-keys.js, refusal-words.js,
// and code-assist.js, completion.js and inspect-panel.js (with CodeMirror only).
'use strict';

(() => {
  const {
    SandboxClient, RpcError, ConnectionLostError, createCodeEditor, OutputView, SessionControl, FileAttachments,
    ReturnedFiles, RunKeys, LimitFields, PackageField, CellHistory, CodeAssist, Completion, InspectPanel, refusalInWords,
  } = window.PySandbox;

  const STORE = {
    code: 'pysandbox.code', timeout: 'pysandbox.timeoutSeconds', cpuTime: 'pysandbox.cpuTimeSeconds',
    memory: 'pysandbox.memoryMb', outputLimit: 'pysandbox.outputLimitKb', returnFiles: 'pysandbox.returnFiles', keepVariables: 'pysandbox.keepVariables',
    packages: 'pysandbox.packages',
  };
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
    outputLimit: $('output-limit'),
    stopShortcut: $('stop-shortcut'),
    editorKeys: $('editor-keys'),
    attachInput: $('attach-input'),
    attached: $('attached'),
    attachMessage: $('attach-message'),
    returnField: $('return-field'),
    returnFiles: $('return-files'),
    packagesField: $('packages-field'),
    packages: $('packages'),
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

  /** state: idle | starting | installing | queued | running | done | lost | refused */
  function setStatus(state, label, detail = '', verdict = null) {
    ui.status.dataset.state = state;
    for (const key of ['exitCode', 'signal', 'errorCode', 'limit', 'reason']) delete ui.status.dataset[key];
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
    if (!inSession) parts.push(...memoryFigures(v));
    if (v.queuedMs >= 100) parts.push(`queued ${formatMs(v.queuedMs)}`);
    if (v.truncated) parts.push(`output cut at ${formatBytes(v.stdoutBytes + v.stderrBytes + (v.displayBytes || 0))}`);
    if (v.message) parts.push(v.message);
    // A timeout says which limit ended it: the wall clock's or the CPU time's.
    const label = v.status === 'timeout' && v.limit === 'cpu' ? 'CPU time limit' : STATUS_LABELS[v.status] || v.status;
    setStatus('done', label, parts.join(' · '), v.status);
    if (v.limit) ui.status.dataset.limit = v.limit;
    ui.status.dataset.exitCode = v.exitCode ?? '';
    ui.status.dataset.signal = v.signal ?? '';
    ui.status.title = inSession ? '' : MEMORY_TITLE;
    return {label, detail: parts.join(' · ')};
  }

  /** `peak memory` is the run's peak as its cgroup counted it (what the memory limit applies to);
   *  `max RSS` is the largest resident set of one process. The CLI uses the same words. */
  function memoryFigures(v) {
    const figures = [];
    if (v.peakMemoryKb != null) figures.push(`peak memory ${formatKb(v.peakMemoryKb)}`);
    figures.push(`max RSS ${formatKb(v.maxRssKb)}`);
    return figures;
  }

  const MEMORY_TITLE = 'peak memory: the most memory the run used, all its processes and files in /tmp and '
    + '/dev/shm together, as its memory cgroup counted it; the memory limit applies to this (not shown on servers '
    + 'without cgroups).\nmax RSS: the largest resident set of any one of its processes, which includes the '
    + 'pages it shares with the preloaded Python interpreter.';

  // --------------------------------------------------------- returned files

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

  const fields = new LimitFields({
    timeout: ui.timeout, cpuTime: ui.cpuTime, memory: ui.memory, outputLimit: ui.outputLimit, hint: ui.limitsHint,
  }, {
    storage, formatBytes,
    storageKeys: {timeout: STORE.timeout, cpuTime: STORE.cpuTime, memory: STORE.memory, outputLimit: STORE.outputLimit},
  });
  const limits = {maxCodeBytes: null, maxMessageBytes: null};

  function applyLimits(result) {
    const l = result.limits || {};
    fields.configure(l);
    limits.maxCodeBytes = l.maxCodeBytes || null;
    limits.maxMessageBytes = l.maxMessageBytes || null;
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

  ui.returnFiles.addEventListener('change', () => storage.set(STORE.returnFiles, ui.returnFiles.value));

  // ---------------------------------------------------------------- packages

  const packageField = new PackageField({field: ui.packagesField, input: ui.packages},
    {storage, storageKey: STORE.packages});

  const PACKAGES_UNAVAILABLE = -32008;
  const INVALID_PARAMS = -32602;

  /** Whether `err` refused the run's (or session's) packages (PROTOCOL.md, "Packages"). */
  function isPackageRefusal(err) {
    return err instanceof RpcError && (err.code === PACKAGES_UNAVAILABLE
      || (err.code === INVALID_PARAMS && err.data && err.data.reason === 'badRequirement'));
  }

  const PACKAGE_REASONS = {
    badRequirement: 'a requirement is malformed: give a name, optional [extras] and an optional version (pandas>=2)',
    disabled: 'this server installs no packages',
    notAllowed: 'the package is not on this server’s list of allowed packages',
    unknownPackage: 'there is no package of that name where this server gets packages',
    noSuchVersion: 'no release of the package matches the version asked for',
    noWheel: 'the package has no wheel for this server’s Python (only wheels are installed)',
    unsatisfiable: 'the requirements conflict with each other or with the server’s own packages',
    setTooLarge: 'the set has more packages than this server installs at once',
    layerTooLarge: 'the set is larger installed than this server allows',
    indexUnreachable: 'the server cannot reach its package index: try again later',
    timedOut: 'installing took longer than the server allows: try again later',
    installerFailed: 'the installer failed: try again later',
    unavailable: 'the server cannot install packages now: try again later',
  };

  /** A package refusal, readably in the output area (the server's message, its reason and requirement),
   *  and on the status line. */
  function showPackageRefusal(err, what, code) {
    const data = err.data || {};
    freshOutput(code, null);
    returned.clear();
    const lines = [what === 'session'
      ? 'Not run: a session with these packages could not be opened.'
      : 'Not run: the packages could not be had.', err.message];
    if (data.reason) lines.push(`reason: ${data.reason}${PACKAGE_REASONS[data.reason] ? ` (${PACKAGE_REASONS[data.reason]})` : ''}`);
    if (data.requirement) lines.push(`requirement: ${data.requirement}`);
    output.note(`${lines.join('\n')}\n`);
    output.finish();
    const detail = [data.reason, data.requirement].filter(Boolean).join(': ');
    setStatus('refused', 'packages unavailable', detail);
    cells.finish({label: 'packages unavailable', detail, state: 'refused'});
    ui.status.dataset.errorCode = String(err.code);
    if (data.reason) ui.status.dataset.reason = data.reason;
  }

  // ------------------------------------------------------------------ access

  // A token in the page's address (?token=…) is the server's business: it
  // answers with an HttpOnly cookie and sends the browser back here without it.

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

  const client = new SandboxClient();
  let editor = null;
  let output = null;
  let current = null;   // {handle, stdinOpen, stopping}
  let waking = false;   // reconnecting after an idle close, for a run
  const sessions = new SessionControl(client, {
    controls: ui.sessionControls, toggle: ui.keepVariables, restart: ui.restart, line: ui.sessionLine,
  }, {storage, storageKey: STORE.keepVariables, formatMs, onChange: () => updateControls()});
  const utf8 = new TextEncoder();
  const returned = new ReturnedFiles(ui.files, {formatBytes});
  const attachments = new FileAttachments({input: ui.attachInput, list: ui.attached, message: ui.attachMessage}, {
    formatBytes, codeBytes: () => (editor ? utf8.encode(editor.getValue()).length : 0),
  });
  const keys = new RunKeys({output: ui.output, stdin: ui.stdin}, {
    editor: () => editor && editor.element, running: () => Boolean(current), stop: () => stopRun(),
  });
  let cells = null;   // the output view's cells (Keep variables), made with it in main()
  // Completion and help ask about the session's live variables when there is one.
  const assist = new CodeAssist(client, {session: () => (sessions.enabled ? sessions.session : null)});

  /** The output view, emptied for a run (`session` null: a one-off run), or a new cell after the others. */
  function freshOutput(code, session) {
    if (sessions.enabled) {
      cells.begin({code, session});
    } else {
      cells.leave();
      output.clear();
    }
  }

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
    const {memoryMb, packages, code, ...rest} = params;
    const openParams = {...(memoryMb === undefined ? {} : {memoryMb}), ...(packages ? {packages} : {})};
    try {
      const session = await sessions.sessionForRun(openParams);
      return {session, params: session ? {...rest, code, session} : params};
    } catch (err) {
      if (isPackageRefusal(err)) {
        showPackageRefusal(err, 'session', code);
        return null;
      }
      if (!(err instanceof ConnectionLostError)) console.warn('session/open failed', err);
      setStatus('refused', 'not run', `no session could be opened: ${err.message}`);
      if (err instanceof RpcError) ui.status.dataset.errorCode = String(err.code);
      return null;
    }
  }

  /** Why a run's request would be larger than the server takes (`limits.maxMessageBytes`), or null. */
  function messageTooLarge(params) {
    if (!limits.maxMessageBytes) return null;
    const bytes = utf8.encode(JSON.stringify({jsonrpc: '2.0', id: 'run-0000000000', method: 'run', params})).length;
    if (bytes <= limits.maxMessageBytes) return null;
    const what = params.files ? 'the code and the files sent with it come' : 'the code comes';
    return `${what} to ${formatBytes(bytes)}, more than the ${formatBytes(limits.maxMessageBytes)} `
      + 'this server takes in one run: remove a file or make it smaller';
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
    const files = attachments.param();
    const packages = packageField.requirements();
    const wanted = {code, interactive: true, ...fields.runParams(),
      ...(files ? {files} : {}), ...(patterns.length ? {returnFiles: patterns} : {}),
      ...(packages.length ? {packages} : {})};
    const tooLarge = messageTooLarge(wanted);
    if (tooLarge) {
      setStatus('refused', 'not run', tooLarge);
      return;
    }
    // At once, before the session is opened: the last run's verdict is no longer the page's state.
    // A session opened with packages installs them first (session/open sends no run/status).
    const opensWithPackages = packages.length && sessions.enabled
      && !(sessions.session && PackageField.sameSet(sessions.packages, packages));
    if (opensWithPackages) setStatus('installing', 'Installing packages…', `${packages.join(' ')} (opening the session)`);
    else setStatus('starting', 'starting…');
    const planned = await runSession(wanted);
    if (!planned || current) return;
    const {session, params} = planned;
    freshOutput(code, session);
    returned.clear();
    setStatus('starting', 'starting…');
    let retry = false;
    const handle = client.run(params, {
      onStatus({state, position}) {
        if (state === 'installing') {
          setStatus('installing', 'Installing packages…', (params.packages || []).join(' '));
        } else if (state === 'queued') {
          setStatus('queued', position != null ? `queued (position ${position})` : 'queued');
        } else if (state === 'running') {
          setStatus('running', current && current.stopping ? 'stopping…' : 'running…');
        }
      },
      onOutput({stream, text}) { output.write(stream, text); },
      onDisplay({data, metadata}) { output.display({data, metadata}); },
      // The program waits for input() (its prompt is already in the output).
      onStdinWanted() { keys.inputWanted(); },
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
      cells.finish({...showVerdict(verdict, {inSession: Boolean(session)}), verdict});
      returned.show(verdict);
    } catch (err) {
      if (err instanceof ConnectionLostError) {
        if (!output.endsLine()) output.note('\n');
        output.note('[connection lost: the server stops a run when its connection closes]\n');
        output.finish();
        setStatus('lost', 'lost', 'the connection closed during the run; its result is unknown');
        cells.finish({label: 'lost', detail: 'the connection closed during the run', state: 'lost'});
      } else if (!retried && sessions.runRefused(err, session)) {
        // The session ended just before the run reached it: once more, in a new one (and a new cell).
        cells.discard();
        retry = true;
      } else if (isPackageRefusal(err)) {
        showPackageRefusal(err, 'run', code);
      } else if (err instanceof RpcError) {
        output.finish();
        setStatus('refused', 'not run', refusalInWords(err));
        ui.status.dataset.errorCode = String(err.code);
        cells.finish({label: 'not run', detail: refusalInWords(err), state: 'refused'});
      } else {
        console.error(err);
        output.finish();
        setStatus('refused', 'not run', String(err && err.message || err));
        cells.finish({label: 'not run', state: 'refused'});
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
  ui.clear.addEventListener('click', () => { if (!current) cells.clear(); });
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
    assist.configure(event.detail);
    packageField.configure(event.detail);
    attachments.configure(event.detail);
  });

  // ------------------------------------------------------------------ start

  async function main() {
    const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
    ui.shortcut.textContent = isMac ? '⌘ Enter' : 'Ctrl+Enter';
    if (isMac) {
      ui.stopShortcut.textContent = '⌘.';
      ui.stop.title = 'Stop the run (⌘. anywhere, or Ctrl+C in the output or input line with nothing selected)';
    }
    // A traceback's line: the editor's, unless the link is in a cell whose code the editor no longer holds.
    output = new OutputView(ui.output, {
      onGoToLine: (line, link) => editor && !cells.showLine(line, link, editor.getValue()) && editor.goToLine(line),
    });
    cells = new CellHistory(output);
    setStatus('idle', 'ready', 'nothing run yet');
    fields.restore();
    const storedReturnFiles = storage.get(STORE.returnFiles);
    if (storedReturnFiles !== null) ui.returnFiles.value = storedReturnFiles;
    packageField.restore();
    client.start();

    const saved = storage.get(STORE.code);
    ui.code.value = saved !== null ? saved : SAMPLE;
    const result = await createCodeEditor(ui.code, {onRun: () => startRun()});
    editor = result.editor;
    document.body.dataset.editor = editor.kind;
    const comment = isMac ? '⌘/' : 'Ctrl+/';
    if (editor.codeMirror && editor.codeMirror.showHint) {
      new Completion(editor.codeMirror, assist);
      new InspectPanel(editor.codeMirror, assist);
      ui.editorKeys.textContent = `Ctrl+Space completes · Shift+Tab help · ${comment} comments · Esc, Tab leaves`;
      ui.editorKeys.title = 'Ctrl+Space: complete the name at the cursor (the list also opens as you type). '
        + 'Shift+Tab: the signature and docstring of the name at the cursor; Escape closes them. '
        + `${comment}: comment or uncomment the selected lines. Escape, then Tab: leave the editor.`;
    } else {
      ui.editorKeys.textContent = `Tab indents · ${comment} comments · Esc then Tab leaves the editor`;
    }
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
