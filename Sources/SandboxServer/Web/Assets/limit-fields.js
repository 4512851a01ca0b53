// The run's limits as fields beside the Run button: time, CPU time, memory
// and output (PROTOCOL.md §4.2), each held within the server's range from
// `initialize` and remembered across reloads. A run carries only those that
// differ from the server's defaults. Loaded before editor.js.
'use strict';

(() => {
  const MIN_TIMEOUT_MS = 1;
  const MIN_CPU_TIME_MS = 1;
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  /** Puts `seconds`, within the limit, into a field of seconds; returns milliseconds. */
  function setSeconds(input, limit, minMs, seconds) {
    const max = limit ? limit.max : Infinity;
    const fallback = limit ? limit.default : 10000;
    const ms = Number.isFinite(seconds) && seconds > 0 ? clamp(Math.round(seconds * 1000), minMs, max) : fallback;
    input.value = String(ms / 1000);
    return ms;
  }

  const valueOf = (input) => (input.value === '' ? NaN : parseFloat(input.value));

  class LimitFields {
    /** `fields`: the inputs {timeout, cpuTime, memory, outputLimit} and the `hint` beside them;
     *  `storageKeys`: where each field's value is remembered. */
    constructor(fields, {storage, storageKeys, formatBytes}) {
      Object.assign(this, {fields, storage, storageKeys, formatBytes});
      this.limits = {timeoutMs: null, cpuTimeMs: null, memoryMb: null, maxOutputBytes: null};
      const setters = {
        timeout: (v) => this.setTimeoutSeconds(v), cpuTime: (v) => this.setCpuTimeSeconds(v),
        memory: (v) => this.setMemoryMb(v), outputLimit: (v) => this.setOutputKb(v),
      };
      for (const [name, set] of Object.entries(setters)) {
        const input = fields[name];
        input.addEventListener('change', () => {
          set(parseFloat(input.value));
          storage.set(storageKeys[name], input.value);
        });
      }
    }

    /** The values remembered from an earlier visit. */
    restore() {
      for (const [name, key] of Object.entries(this.storageKeys)) {
        const stored = this.storage.get(key);
        if (stored !== null) this.fields[name].value = stored;
      }
    }

    /** After each `initialize`: the server's ranges, in the fields' bounds, placeholders and titles. */
    configure(serverLimits) {
      const l = serverLimits || {};
      const {fields, formatBytes} = this;
      const limits = {
        timeoutMs: l.timeoutMs || null, cpuTimeMs: l.cpuTimeMs || null, memoryMb: l.memoryMb || null,
        maxOutputBytes: l.maxOutputBytes || null,
      };
      this.limits = limits;
      if (limits.timeoutMs) {
        fields.timeout.min = String(MIN_TIMEOUT_MS / 1000);
        fields.timeout.max = String(limits.timeoutMs.max / 1000);
        fields.timeout.placeholder = String(limits.timeoutMs.default / 1000);
        fields.timeout.title = `${MIN_TIMEOUT_MS / 1000}–${limits.timeoutMs.max / 1000} s; `
          + `default ${limits.timeoutMs.default / 1000} s`;
        this.setTimeoutSeconds(valueOf(fields.timeout));
      }
      if (limits.cpuTimeMs) {
        fields.cpuTime.min = String(MIN_CPU_TIME_MS / 1000);
        fields.cpuTime.max = String(limits.cpuTimeMs.max / 1000);
        fields.cpuTime.placeholder = String(limits.cpuTimeMs.default / 1000);
        fields.cpuTime.title = `${MIN_CPU_TIME_MS / 1000}–${limits.cpuTimeMs.max / 1000} s of CPU, all the program's `
          + `processes together; default ${limits.cpuTimeMs.default / 1000} s`;
        this.setCpuTimeSeconds(valueOf(fields.cpuTime));
      }
      if (limits.memoryMb) {
        const {min = 1, max} = limits.memoryMb;
        fields.memory.min = String(min);
        fields.memory.max = String(max);
        fields.memory.placeholder = String(limits.memoryMb.default);
        fields.memory.title = `${min}–${max} MiB; default ${limits.memoryMb.default} MiB`;
        this.setMemoryMb(valueOf(fields.memory));
      }
      if (limits.maxOutputBytes) {
        const {min = 0, max} = limits.maxOutputBytes;
        fields.outputLimit.min = String(Math.ceil(min / 1024));
        fields.outputLimit.max = String(Math.floor(max / 1024));
        fields.outputLimit.placeholder = String(Math.round(limits.maxOutputBytes.default / 1024));
        fields.outputLimit.title = `stdout, stderr and displays together: ${Math.ceil(min / 1024)}–`
          + `${Math.floor(max / 1024)} KiB; default ${formatBytes(limits.maxOutputBytes.default)}. `
          + 'Past it the run ends (output limit)';
        this.setOutputKb(valueOf(fields.outputLimit));
      }
      if (limits.timeoutMs && limits.memoryMb) {
        const cpu = limits.cpuTimeMs ? `, CPU ${limits.cpuTimeMs.max / 1000} s` : '';
        const output = limits.maxOutputBytes ? `, output ${formatBytes(limits.maxOutputBytes.max)}` : '';
        fields.hint.textContent = `max ${limits.timeoutMs.max / 1000} s${cpu}, ${limits.memoryMb.max} MiB${output}`;
      }
    }

    setTimeoutSeconds(seconds) {
      return setSeconds(this.fields.timeout, this.limits.timeoutMs, MIN_TIMEOUT_MS, seconds);
    }

    setCpuTimeSeconds(seconds) {
      return setSeconds(this.fields.cpuTime, this.limits.cpuTimeMs, MIN_CPU_TIME_MS, seconds);
    }

    setMemoryMb(mb) {
      const limit = this.limits.memoryMb;
      const fallback = limit ? limit.default : 256;
      const value = Number.isFinite(mb) && mb > 0 ? clamp(Math.round(mb), limit?.min ?? 1, limit ? limit.max : Infinity)
        : fallback;
      this.fields.memory.value = String(value);
      return value;
    }

    /** Puts `kb` KiB, within the server's range, into the output field; returns bytes. */
    setOutputKb(kb) {
      const limit = this.limits.maxOutputBytes;
      const fallback = limit ? limit.default : 1048576;
      const bytes = Number.isFinite(kb) && kb >= 0
        ? clamp(Math.round(kb) * 1024, limit?.min ?? 0, limit ? limit.max : Infinity) : fallback;
      this.fields.outputLimit.value = String(Math.round(bytes / 1024));
      return bytes;
    }

    /** timeoutMs, cpuTimeMs, memoryMb and maxOutputBytes for a run, left out when they are the server's
     *  defaults (cpuTimeMs also when the server does not offer it). */
    runParams() {
      const {limits, fields} = this;
      const params = {};
      const timeoutMs = this.setTimeoutSeconds(parseFloat(fields.timeout.value));
      if (!limits.timeoutMs || timeoutMs !== limits.timeoutMs.default) params.timeoutMs = timeoutMs;
      if (limits.cpuTimeMs) {
        const cpuTimeMs = this.setCpuTimeSeconds(parseFloat(fields.cpuTime.value));
        if (cpuTimeMs !== limits.cpuTimeMs.default) params.cpuTimeMs = cpuTimeMs;
      }
      const memoryMb = this.setMemoryMb(parseFloat(fields.memory.value));
      if (!limits.memoryMb || memoryMb !== limits.memoryMb.default) params.memoryMb = memoryMb;
      const maxOutputBytes = this.setOutputKb(parseFloat(fields.outputLimit.value));
      if (!limits.maxOutputBytes || maxOutputBytes !== limits.maxOutputBytes.default) params.maxOutputBytes = maxOutputBytes;
      return params;
    }
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {LimitFields});
})();
