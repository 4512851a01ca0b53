// A refused request in words for the status line: for a spent daily
// quota, which quota and when it resets (the local time, and how long
// until then); for a rate or a full queue, when to try again. Anything
// else: the server's message. Loaded before editor.js.
'use strict';

(() => {
  const QUEUE_FULL = -32001;
  const RATE_LIMITED = -32004;
  const QUOTA_EXCEEDED = -32011;

  /** A wait in words: `40 s`, `12 min`, `5 h 12 min`. */
  function waitInWords(milliseconds) {
    const seconds = Math.max(1, Math.ceil(milliseconds / 1000));
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.ceil(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  /** What `err` ({code, message, data}) says, for people; `now` in ms (tests pass their own). */
  function refusalInWords(err, now = Date.now()) {
    const data = (err && err.data) || {};
    if (err && err.code === QUOTA_EXCEEDED && typeof data.resetsAt === 'string') {
      const resets = new Date(data.resetsAt);
      const at = resets.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
      const quota = Number.isInteger(data.limit) ? ` (${data.limit} CPU seconds a day)` : '';
      return `the daily CPU quota${quota} is used up; it resets at ${at} (midnight UTC), in ${waitInWords(resets.getTime() - now)}`;
    }
    if (err && (err.code === RATE_LIMITED || err.code === QUEUE_FULL) && Number.isInteger(data.retryAfterMs)) {
      const why = err.code === QUEUE_FULL
        ? (data.scope ? `${data.scope} has ${data.limit} runs waiting, its share of the queue` : 'the server is busy (its queue is full)')
        : `too many runs: at most ${data.runsPerMinute} a minute${data.scope ? ` for ${data.scope}` : ''}`;
      return `${why}; try again in ${waitInWords(data.retryAfterMs)}`;
    }
    return String((err && err.message) || err);
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {refusalInWords, waitInWords});
})();
