// Program output as a terminal shows it. One TerminalText per stream turns
// the text of run/output messages into pieces for the output pane: text with
// its style (ANSI SGR: colours, bold, dim, italic, underline, …), a carriage
// return (`\r`: the next text rewrites the current line), and erasing the
// line (`ESC[K`, `ESC[2K`). Every other escape sequence (cursor movement,
// titles, charsets, …) is dropped, never shown. A sequence split across two
// messages is kept until the rest arrives. Nothing here touches the DOM
// except styledNode(), which builds text nodes and spans: never HTML.
'use strict';

(() => {
  const ESC = '\x1b';
  // Where plain text stops: an escape, a carriage return, a bell.
  const SPECIAL = /[\x1b\r\x07]/g;
  // An unfinished sequence longer than this is not one: it is dropped.
  const MAX_PENDING = 4096;

  const CARRIAGE_RETURN = Object.freeze({control: 'carriageReturn'});
  const ERASE_LINE = Object.freeze({control: 'eraseLine'});            // ESC[2K, ESC[1K
  const ERASE_TO_END = Object.freeze({control: 'eraseToEnd'});         // ESC[K, ESC[0K

  const FIELDS = ['fg', 'bg', 'bold', 'dim', 'italic', 'underline', 'strike', 'inverse'];
  const interned = new Map();   // a style's fields as a key -> the one frozen style with them

  /**
   * An SGR state: frozen (a piece of text keeps the style it was written
   * in) and interned (one object per look), so that a style and an SGR
   * sequence map to the next style through a cache.
   */
  function makeStyle(fields) {
    const style = {fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, strike: false,
      inverse: false, ...fields};
    const key = FIELDS.map((field) => String(style[field])).join('|');
    let known = interned.get(key);
    if (!known) {
      known = Object.freeze(Object.assign(style, {next: new Map()}));
      if (interned.size < 4096) interned.set(key, known);
    }
    return known;
  }
  const PLAIN = makeStyle({});
  const isPlain = (style) => style === PLAIN;

  // The xterm 256-colour palette above the 16 that the stylesheet themes.
  const CUBE = [0, 95, 135, 175, 215, 255];
  function paletteColour(n) {
    if (n < 232) {
      const i = n - 16;
      return `rgb(${CUBE[Math.floor(i / 36)]}, ${CUBE[Math.floor(i / 6) % 6]}, ${CUBE[i % 6]})`;
    }
    const grey = 8 + 10 * (n - 232);
    return `rgb(${grey}, ${grey}, ${grey})`;
  }

  const byte = (value) => Math.min(255, Math.max(0, Number(value) || 0));

  /**
   * The colour that an extended colour code (38/48) names, and how many of
   * `params` it used: `5;n` (256 colours) or `2;r;g;b` (24-bit). The colon
   * form (`38:5:n`, `38:2::r:g:b`) comes as one param's subparams.
   * A colour is a palette index (0–255) or an `rgb(…)` string.
   */
  function extendedColour(params, i) {
    const first = params[i + 1];
    if (first === undefined) return {colour: undefined, used: 0};
    if (first === '5') {
      const n = Number(params[i + 2]);
      return {colour: Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined, used: 2};
    }
    if (first === '2') {
      const [r, g, b] = params.slice(i + 2, i + 5);
      return {colour: `rgb(${byte(r)}, ${byte(g)}, ${byte(b)})`, used: 4};
    }
    return {colour: undefined, used: 1};
  }

  /** The same from one colon-separated param: `38:5:n`, `38:2:r:g:b`, `38:2:cs:r:g:b`. */
  function colonColour(sub) {
    if (sub[1] === '5') {
      const n = Number(sub[2]);
      return Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
    }
    if (sub[1] === '2') {
      const rgb = sub.length >= 6 ? sub.slice(3, 6) : sub.slice(2, 5);
      return `rgb(${byte(rgb[0])}, ${byte(rgb[1])}, ${byte(rgb[2])})`;
    }
    return undefined;
  }

  /** `style` after the SGR sequence `ESC[<params>m` (cached: output repeats the same few). */
  function applySgr(style, paramText) {
    let next = style.next.get(paramText);
    if (!next) {
      next = computeSgr(style, paramText);
      if (style.next.size < 256) style.next.set(paramText, next);
    }
    return next;
  }

  function computeSgr(style, paramText) {
    const params = paramText === '' ? ['0'] : paramText.split(';');
    const next = {};
    for (const field of FIELDS) next[field] = style[field];
    for (let i = 0; i < params.length; i += 1) {
      const param = params[i];
      if (param.includes(':')) {
        const sub = param.split(':');
        const code = Number(sub[0]);
        if (code === 38) next.fg = colonColour(sub) ?? next.fg;
        else if (code === 48) next.bg = colonColour(sub) ?? next.bg;
        else if (code === 4) next.underline = sub[1] !== '0';
        continue;
      }
      const code = param === '' ? 0 : Number(param);
      if (code === 0) for (const field of FIELDS) next[field] = PLAIN[field];
      else if (code === 1) next.bold = true;
      else if (code === 2) next.dim = true;
      else if (code === 3) next.italic = true;
      else if (code === 4 || code === 21) next.underline = true;
      else if (code === 7) next.inverse = true;
      else if (code === 9) next.strike = true;
      else if (code === 22) { next.bold = false; next.dim = false; }
      else if (code === 23) next.italic = false;
      else if (code === 24) next.underline = false;
      else if (code === 27) next.inverse = false;
      else if (code === 29) next.strike = false;
      else if (code >= 30 && code <= 37) next.fg = code - 30;
      else if (code === 39) next.fg = null;
      else if (code >= 40 && code <= 47) next.bg = code - 40;
      else if (code === 49) next.bg = null;
      else if (code >= 90 && code <= 97) next.fg = code - 90 + 8;
      else if (code >= 100 && code <= 107) next.bg = code - 100 + 8;
      else if (code === 38 || code === 48) {
        const {colour, used} = extendedColour(params, i);
        if (colour !== undefined) next[code === 38 ? 'fg' : 'bg'] = colour;
        i += used;
      }
      // Anything else (blink, conceal, fonts, …) changes nothing.
    }
    return makeStyle(next);
  }

  const isDigitOrSeparator = (code) => code >= 0x30 && code <= 0x3f;   // 0-9 : ; < = > ?
  const isIntermediate = (code) => code >= 0x20 && code <= 0x2f;
  const isFinal = (code) => code >= 0x40 && code <= 0x7e;

  /** One stream's parser: its style and any unfinished escape sequence carry over between feed() calls. */
  class TerminalText {
    constructor() {
      this.style = PLAIN;
      this.pending = '';
    }

    /**
     * The pieces of `chunk`: {text, style} (text never empty), or one of the
     * controls {control: 'carriageReturn' | 'eraseLine' | 'eraseToEnd'}.
     */
    feed(chunk) {
      let s = this.pending ? this.pending + chunk : chunk;
      // \r\n is a newline: the line stays.
      if (s.includes('\r\n')) s = s.replace(/\r\n/g, '\n');
      this.pending = '';
      const pieces = [];
      let i = 0;
      while (i < s.length) {
        SPECIAL.lastIndex = i;
        const match = SPECIAL.exec(s);
        const at = match ? match.index : s.length;
        if (at > i) pieces.push({text: s.slice(i, at), style: this.style});
        if (!match) break;
        const c = s[at];
        if (c === '\r') {
          // A \r at the end waits to see whether a \n follows.
          if (at + 1 === s.length) {
            this.pending = '\r';
            break;
          }
          if (s[at + 1] !== '\n') pieces.push(CARRIAGE_RETURN);
          i = at + 1;
        } else if (c === '\x07') {
          i = at + 1;
        } else {
          const end = this.escape(s, at, pieces);
          if (end < 0) {
            // Unfinished: wait for the rest, unless it is too long to be a sequence.
            const rest = s.slice(at);
            if (rest.length <= MAX_PENDING) this.pending = rest;
            break;
          }
          i = end;
        }
      }
      return pieces;
    }

    /**
     * The escape sequence at s[at] (an ESC): acts on it (SGR, erase) and
     * returns the index after it, or -1 when it is not finished yet.
     * Malformed sequences end where they stop making sense; the rest is text.
     */
    escape(s, at, pieces) {
      if (at + 1 >= s.length) return -1;
      const kind = s[at + 1];
      if (kind === '[') {
        let k = at + 2;
        while (k < s.length && isDigitOrSeparator(s.charCodeAt(k))) k += 1;
        const paramsEnd = k;
        while (k < s.length && isIntermediate(s.charCodeAt(k))) k += 1;
        if (k >= s.length) return -1;
        if (!isFinal(s.charCodeAt(k))) return k;   // broken: drop what came so far
        this.control(s.slice(at + 2, paramsEnd), paramsEnd === k ? s[k] : '', pieces);
        return k + 1;
      }
      if (kind === ']' || kind === 'P' || kind === 'X' || kind === '^' || kind === '_') {
        // OSC (titles, hyperlinks) ends with BEL or ESC \; DCS, SOS, PM and APC with ESC \.
        for (let k = at + 2; k < s.length; k += 1) {
          if (s[k] === '\x07' && kind === ']') return k + 1;
          if (s[k] === ESC) {
            if (k + 1 >= s.length) return -1;
            if (s[k + 1] === '\\') return k + 2;
          }
        }
        return -1;
      }
      // ESC, intermediates (e.g. `(` of a charset), a final: dropped.
      let k = at + 1;
      while (k < s.length && isIntermediate(s.charCodeAt(k))) k += 1;
      if (k >= s.length) return -1;
      const code = s.charCodeAt(k);
      return code >= 0x30 && code <= 0x7e ? k + 1 : k;
    }

    /** A complete CSI sequence; `final` is '' when it had intermediate bytes (none that we act on). */
    control(params, final, pieces) {
      if (final === 'm') {
        if (/^[0-9;:]*$/.test(params)) this.style = applySgr(this.style, params);
      } else if (final === 'K') {
        if (params === '' || params === '0') pieces.push(ERASE_TO_END);
        else if (params === '1' || params === '2') pieces.push(ERASE_LINE);
      }
      // Cursor movement, scrolling, modes, …: a page of text has no cursor to move.
    }
  }

  // ---------------------------------------------------------------- DOM

  const classCache = new WeakMap();

  /** The classes and inline colours that show `style` (inverse swaps the colours). */
  function presentation(style) {
    let shown = classCache.get(style);
    if (shown) return shown;
    const classes = [];
    const colours = {};
    let {fg, bg} = style;
    if (style.inverse) {
      [fg, bg] = [bg, fg];
      if (fg === null) classes.push('ansi-inverse-fg');
      if (bg === null) classes.push('ansi-inverse-bg');
    }
    for (const [colour, prefix, property] of [[fg, 'ansi-fg-', 'color'], [bg, 'ansi-bg-', 'backgroundColor']]) {
      if (colour === null) continue;
      if (typeof colour === 'string') colours[property] = colour;
      else if (colour < 16) classes.push(`${prefix}${colour}`);
      else colours[property] = paletteColour(colour);
    }
    for (const flag of ['bold', 'dim', 'italic', 'underline', 'strike']) {
      if (style[flag]) classes.push(`ansi-${flag}`);
    }
    shown = {className: classes.join(' '), colours};
    classCache.set(style, shown);
    return shown;
  }

  /**
   * `text` in `style`: a text node when plain, else a span with classes
   * (the 16 standard colours come from the stylesheet, so they follow the
   * page's light or dark theme) and, for 256 and 24-bit colours, inline
   * colours set through CSSOM (which the page's Content-Security-Policy allows).
   */
  function styledNode(text, style) {
    if (isPlain(style)) return document.createTextNode(text);
    const span = document.createElement('span');
    const {className, colours} = presentation(style);
    span.className = className ? `ansi ${className}` : 'ansi';
    Object.assign(span.style, colours);
    span.textContent = text;
    return span;
  }

  window.PySandbox = Object.assign(window.PySandbox || {}, {
    TerminalText, styledNode, isPlainStyle: isPlain,
    TERMINAL: {CARRIAGE_RETURN, ERASE_LINE, ERASE_TO_END},
  });
})();
