/* XYZ sign-up: the behaviour of every page — the language, the forms and
 * their checks, the calls to the API. No framework, no build step.
 *
 * Each page names itself in <body data-page="...">; the function of that
 * name in `pages` runs once the document is parsed (the script is deferred).
 * Texts come from i18n.js (window.XYZ_I18N).
 *
 * Checks in the browser mirror the server's (ngx_xyz_validate.c,
 * ngx_xyz_register_input.c); the server decides, and its JSON errors
 * ({"error","field","message"}) are shown next to the field they name. */
(() => {
  'use strict';

  const STRINGS = window.XYZ_I18N || { es: {}, en: {} };
  const LANGS = ['es', 'en'];
  const LANG_KEY = 'xyz.lang';
  const EMAIL_KEY = 'xyz.email';
  const RESET_KEY = 'xyz.reset_token';
  const SIGNUP_KEY = 'xyz.signup';
  const params = new URLSearchParams(location.search);
  const langHooks = [];

  // ---- storage, which a browser may refuse (privacy settings) -------------

  function storageGet(area, key) {
    try { return window[area].getItem(key); } catch (e) { return null; }
  }

  function storageSet(area, key, value) {
    try {
      if (value === null) window[area].removeItem(key);
      else window[area].setItem(key, value);
      return true;
    } catch (e) {
      return false;
    }
  }

  // ---- language -------------------------------------------------------------
  // ?lang= wins (and is kept), then the kept choice, then the browser's
  // languages in order of preference, then Spanish.

  function resolveLang() {
    const asked = params.get('lang');
    if (LANGS.includes(asked)) {
      storageSet('localStorage', LANG_KEY, asked);
      return asked;
    }
    const kept = storageGet('localStorage', LANG_KEY);
    if (LANGS.includes(kept)) return kept;
    const wanted = navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language || ''];
    for (const tag of wanted) {
      const base = String(tag).toLowerCase().split(/[-_]/)[0];
      if (LANGS.includes(base)) return base;
    }
    return 'es';
  }

  let lang = resolveLang();
  // Without storage the choice travels in the links instead.
  const storageWorks = storageSet('localStorage', 'xyz.probe', '1')
    && storageSet('localStorage', 'xyz.probe', null);

  function t(key, vars) {
    const table = STRINGS[lang] || {};
    let s = key in table ? table[key] : (key in STRINGS.es ? STRINGS.es[key] : key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    }
    return s;
  }

  // Text from a key; the key stays on the element so that a change of
  // language translates it again. A null key empties the element.
  function setText(el, key, vars) {
    if (!key) {
      delete el.dataset.i18n;
      delete el.dataset.i18nVars;
      el.textContent = '';
      return;
    }
    el.dataset.i18n = key;
    if (vars) el.dataset.i18nVars = JSON.stringify(vars);
    else delete el.dataset.i18nVars;
    el.textContent = t(key, vars);
  }

  // A message as the server wrote it (no translation known).
  function setRaw(el, text) {
    delete el.dataset.i18n;
    delete el.dataset.i18nVars;
    el.textContent = text;
  }

  function setMessage(el, msg) {
    if (!msg) setText(el, null);
    else if (msg.key) setText(el, msg.key, msg.vars);
    else setRaw(el, msg.text || '');
  }

  // Internal address, with the language when it cannot be kept otherwise.
  function href(path) {
    if (storageWorks) return path;
    const u = new URL(path, location.href);
    u.searchParams.set('lang', lang);
    return u.pathname + u.search + u.hash;
  }

  function translate() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll('[data-i18n]')) {
      let vars;
      if (el.dataset.i18nVars) {
        try { vars = JSON.parse(el.dataset.i18nVars); } catch (e) { vars = undefined; }
      }
      el.textContent = t(el.dataset.i18n, vars);
    }
    for (const el of document.querySelectorAll('[data-i18n-attr]')) {
      for (const pair of el.dataset.i18nAttr.split(';')) {
        const [attr, key] = pair.split(':').map((s) => s.trim());
        if (attr && key) el.setAttribute(attr, t(key));
      }
    }
    for (const a of document.querySelectorAll('nav.lang a[data-lang]')) {
      const u = new URL(location.href);
      u.searchParams.set('lang', a.dataset.lang);
      a.href = u.pathname + u.search;
      if (a.dataset.lang === lang) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
    for (const input of document.querySelectorAll('input[name="locale"]')) {
      input.value = lang;
    }
    if (!storageWorks) {
      for (const a of document.querySelectorAll('a[href^="/"]:not([data-lang])')) {
        a.href = href(a.getAttribute('href'));
      }
    }
    for (const hook of langHooks) hook();
  }

  function initLangSwitch() {
    const nav = document.querySelector('nav.lang');
    if (!nav) return;
    nav.hidden = false;
    nav.addEventListener('click', (ev) => {
      const a = ev.target.closest('a[data-lang]');
      if (!a) return;
      ev.preventDefault();
      lang = a.dataset.lang;
      storageSet('localStorage', LANG_KEY, lang);
      const u = new URL(location.href);
      u.searchParams.set('lang', lang);
      history.replaceState(history.state, '', u.pathname + u.search + u.hash);
      translate();
    });
  }

  // ---- the server's rules ---------------------------------------------------

  // White space the server trims (ngx_xyz_trim): space, tab, CR, LF.
  function trimWs(s) {
    return s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  }

  // Length in characters (code points), as the server counts.
  function chars(s) {
    return Array.from(s).length;
  }

  // C0 controls, DEL and C1 controls are refused in names and passwords.
  function hasControl(s) {
    return /[\u0000-\u001f\u007f-\u009f]/.test(s);
  }

  // Names also refuse noncharacters (U+FDD0-U+FDEF, U+nFFFE, U+nFFFF) and
  // bidirectional controls (U+202A-U+202E, U+2066-U+2069), as the server.
  function hasNameForbidden(s) {
    return /[\ufdd0-\ufdef\u202a-\u202e\u2066-\u2069]/.test(s)
      || Array.from(s).some((c) => (c.codePointAt(0) & 0xfffe) === 0xfffe);
  }

  const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
  const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  const TOP_LABEL = /^[A-Za-z]([A-Za-z-]*[A-Za-z])?$/;

  // An address as ngx_xyz_email_normalize accepts it: trimmed, ASCII,
  // 3 to 254 octets, a dot-atom local part of at most 64, a domain of
  // letter-digit-hyphen labels (each 1 to 63, at most 253 in all) with a
  // dot and a top-level label without digits.
  function emailProblem(raw) {
    const s = trimWs(raw);
    if (s === '') return { key: 'err.required.email' };
    if (/[^\x00-\x7f]/.test(s)) return { key: 'err.email_ascii' };
    const at = s.indexOf('@');
    if (s.length < 3 || s.length > 254 || at < 1 || at > 64
        || at !== s.lastIndexOf('@')) {
      return { key: 'err.email' };
    }
    const domain = s.slice(at + 1);
    const labels = domain.split('.');
    if (!LOCAL_PART.test(s.slice(0, at)) || domain.length > 253
        || labels.length < 2 || !labels.every((l) => LABEL.test(l))
        || !TOP_LABEL.test(labels[labels.length - 1])) {
      return { key: 'err.email' };
    }
    return null;
  }

  // What is wrong with one field, from its attributes: required, type=email,
  // minlength and data-max-chars (in characters), data-trim (name),
  // data-match (the id of the field it must repeat), data-required
  // (the key of the message when empty).
  function problem(input) {
    if (input.type === 'email') return emailProblem(input.value);
    const value = 'trim' in input.dataset ? trimWs(input.value) : input.value;
    if (value === '') {
      return input.required
        ? { key: input.dataset.required || `err.required.${input.name}` } : null;
    }
    if (hasControl(value)) return { key: 'err.control' };
    if (input.name === 'name' && hasNameForbidden(value)) return { key: 'err.name' };
    const n = chars(value);
    const min = Number(input.getAttribute('minlength')) || 0;
    const max = Number(input.dataset.maxChars) || 0;
    if (min && n < min) return { key: 'err.too_short', vars: { min, n } };
    if (max && n > max) return { key: 'err.too_long', vars: { max, n } };
    if (input.dataset.match) {
      const other = document.getElementById(input.dataset.match);
      if (other && other.value !== input.value) return { key: 'err.password_mismatch' };
    }
    return null;
  }

  // ---- errors next to fields --------------------------------------------------
  // Each checked field has an element "<id>-error" (and maybe "<id>-hint");
  // the input points at them with aria-describedby, the error first.

  function fieldError(input, msg) {
    const box = document.getElementById(`${input.id}-error`);
    const hint = document.getElementById(`${input.id}-hint`);
    setMessage(box, msg);
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    const ids = [];
    if (msg) ids.push(box.id);
    if (hint) ids.push(hint.id);
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }

  function checkedInputs(form) {
    return Array.from(form.querySelectorAll('input[id]'))
      .filter((i) => document.getElementById(`${i.id}-error`));
  }

  // The form's own message lines: .alert (role=alert) for errors, .status
  // (role=status) for good news.
  function say(form, kind, msg) {
    const alert = form.querySelector('.alert');
    const status = form.querySelector('.status');
    if (alert) setMessage(alert, kind === 'error' ? msg : null);
    if (status) setMessage(status, kind === 'ok' ? msg : null);
  }

  // What a failed call means for the visitor: a message, and the field at
  // fault when the server names one.
  function describe(res) {
    const d = res.data || {};
    const field = typeof d.field === 'string' ? d.field : undefined;
    if (res.gaveUp) return { key: res.typed ? 'queue.gave_up_form' : 'queue.gave_up' };
    if (res.cancelled) return { key: 'err.unavailable' };
    if (res.status === 0) return { key: 'err.network' };
    if (res.status === 429 || d.error === 'too_many_attempts') {
      const secs = res.retryAfter;
      if (!secs) return { key: 'err.too_many' };
      return secs < 90 ? { key: 'err.too_many_wait', vars: { seconds: secs } }
        : { key: 'err.too_many_wait_min', vars: { minutes: Math.ceil(secs / 60) } };
    }
    if (res.status === 503) return { key: 'err.unavailable' };
    if (res.status === 413 || d.error === 'body_too_large') return { key: 'err.too_large' };
    switch (d.error) {
      case 'missing_field':
        return { field, key: `err.required.${field}` in STRINGS.es ? `err.required.${field}` : 'err.field' };
      case 'common_password':
        return { field: field || 'password', key: 'err.password_common' };
      case 'invalid_field':
        if (field === 'email') return { field, key: 'err.email' };
        if (field === 'name') return { field, key: 'err.name' };
        if (field === 'password') return passwordRule(d);
        return { field, key: 'err.field' };
      default:
        break;
    }
    if (field === 'password' && res.status === 422) return passwordRule(d);
    if (d.message) return { field, text: d.message };
    return { field, key: 'err.generic' };
  }

  // The password rule the server applied; its message carries the bounds it
  // is configured with ("password must be 12 to 256 characters ...").
  function passwordRule(d) {
    const text = `${d.error || ''} ${d.message || ''}`;
    if (/common|breach|pwned|known/i.test(text)) {
      return { field: 'password', key: 'err.password_common' };
    }
    const m = /(\d+)\D+(\d+)/.exec(d.message || '');
    if (m || /length|short|long|invalid_field/i.test(text)) {
      const input = document.querySelector('input[name="password"][minlength]');
      const min = m ? m[1] : (input ? input.getAttribute('minlength') : '12');
      const max = m ? m[2] : (input ? input.dataset.maxChars : '256');
      return { field: 'password', key: 'err.password_length', vars: { min, max } };
    }
    return d.message ? { field: 'password', text: d.message }
      : { field: 'password', key: 'err.field' };
  }

  // Shows a failed call: next to the field it names, else in the form's alert.
  function showServerError(form, res, opts) {
    if (res.cancelled) return;   // the queue's line says so
    const msg = describe(res);
    const input = msg.field && form.querySelector(`input[name="${CSS.escape(msg.field)}"]`);
    if (input && document.getElementById(`${input.id}-error`)) {
      fieldError(input, msg);
      if (!opts || opts.focus !== false) input.focus();
      return;
    }
    say(form, 'error', msg);
  }

  // Wires a form: checks in the browser (when a filled field is left for
  // another field, again while an error shows, all at submit), then `send`
  // when everything passes. Leaving a field for a button checks nothing
  // then: a message appearing on mousedown would move the button away from
  // under the pointer and the click would be lost; the submit checks anyway.
  function wireForm(form, send) {
    form.noValidate = true;
    for (const input of checkedInputs(form)) {
      input.addEventListener('blur', (ev) => {
        const to = ev.relatedTarget;
        if (input.value !== '' && to && to.tagName !== 'BUTTON') fieldError(input, problem(input));
      });
      input.addEventListener('input', () => {
        if (input.getAttribute('aria-invalid') === 'true') fieldError(input, problem(input));
      });
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (form.getAttribute('aria-busy') === 'true') return;
      say(form, null);
      let first = null;
      for (const input of checkedInputs(form)) {
        const p = problem(input);
        fieldError(input, p);
        if (p && !first) first = input;
      }
      if (first) {
        first.focus();
        return;
      }
      form.setAttribute('aria-busy', 'true');
      try {
        await send(form);
      } finally {
        form.removeAttribute('aria-busy');
      }
    });
  }

  // ---- the API ------------------------------------------------------------------
  // Changes are POSTed as JSON (the module checks the Origin header, which
  // the browser sends); a URLSearchParams body goes as a form. The answer:
  // {status, data (parsed JSON or null), retryAfter (seconds or 0), url (the
  // address answered last, after redirects), redirected}; status 0 when the
  // server was not reached.

  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body instanceof URLSearchParams) {
      init.body = body;
    } else if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body || {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return { status: 0, data: null, retryAfter: 0 };
    }
    let data = null;
    if (/json/i.test(res.headers.get('Content-Type') || '')) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    return {
      status: res.status, data, retryAfter: retryAfter(res.headers.get('Retry-After')),
      url: res.url, redirected: res.redirected
    };
  }

  // Retry-After in seconds: a number of seconds, or an HTTP date.
  function retryAfter(value) {
    if (!value) return 0;
    if (/^\s*\d+\s*$/.test(value)) return parseInt(value, 10);
    const at = Date.parse(value);
    return Number.isNaN(at) ? 0 : Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }

  // ---- waiting in a queue -------------------------------------------------------
  // A 503 (the module's hash or database queue is full, or the database is
  // away) or a 429 asking for a short wait puts the visitor in a queue: the
  // call is made again after Retry-After, times a random 0.5 to 1.5 so that
  // a crowd turned away together does not come back together, at most
  // QUEUE_TRIES calls in all. A live status line says so once (not at every
  // tick of the countdown, which is not live), a progress bar shows the
  // wait, a button leaves the queue. Nothing typed is touched. A longer 429
  // (and any 429 when `throttle` is set: the login's guesses) is not waited
  // out: the caller says how long to wait.

  const QUEUE_TRIES = 6;
  const QUEUE_MAX_WAIT = 30;      // seconds between two calls, at most
  const QUEUE_SHORT_429 = 10;     // a 429 asking for longer is only said

  function queueable(res, opts) {
    if (res.status === 503) return true;
    return res.status === 429 && !opts.throttle
      && res.retryAfter > 0 && res.retryAfter <= QUEUE_SHORT_429;
  }

  // The queue's elements at the end of `scope`, made when the page starts:
  // a live region must be in the document before it speaks.
  function queueBox(scope) {
    let box = scope.querySelector(':scope > .queue');
    if (box) return box;
    const el = (tag, cls, parent) => {
      const e = document.createElement(tag);
      if (cls) e.className = cls;
      parent.appendChild(e);
      return e;
    };
    box = el('div', 'queue', scope);
    const msg = el('p', 'queue-msg', box);
    msg.setAttribute('role', 'status');
    msg.setAttribute('aria-live', 'polite');
    const wait = el('div', 'queue-wait', box);
    wait.hidden = true;
    el('p', 'queue-next', wait);
    const bar = el('progress', null, wait);
    bar.max = 1;
    bar.value = 0;
    bar.dataset.i18nAttr = 'aria-label:queue.progress';
    bar.setAttribute('aria-label', t('queue.progress'));
    const cancel = el('button', 'btn secondary queue-cancel', wait);
    cancel.type = 'button';
    setText(cancel, 'queue.cancel');
    return box;
  }

  // Waits `ms` with the countdown for call number `n`, or until the
  // visitor leaves the queue (`left()` turns true).
  function queueWait(box, ms, n, left) {
    const next = box.querySelector('.queue-next');
    const bar = box.querySelector('progress');
    const start = Date.now();
    box.querySelector('.queue-wait').hidden = false;
    return new Promise((resolve) => {
      const tick = () => {
        const rest = Math.max(0, start + ms - Date.now());
        setText(next, 'queue.next',
          { seconds: Math.ceil(rest / 1000), n, max: QUEUE_TRIES });
        bar.value = Math.min(1, (Date.now() - start) / ms);
        if (rest > 0 && !left()) return false;
        clearInterval(timer);
        resolve();
        return true;
      };
      const timer = setInterval(tick, 100);
      tick();
    });
  }

  // Makes the call `call` (a function returning api()'s promise), in the
  // queue shown in `scope` while the server asks to wait. opts.typed: the
  // scope is a form with fields (its texts say they are kept);
  // opts.throttle: a 429 is never waited out. The answer is the last one,
  // with `gaveUp` after QUEUE_TRIES calls, or {cancelled} when the visitor
  // left the queue (a call already under way is let finish: its answer
  // counts unless it asks to wait again).
  async function queued(scope, call, opts = {}) {
    const box = queueBox(scope);
    const msg = box.querySelector('.queue-msg');
    const wait = box.querySelector('.queue-wait');
    const next = box.querySelector('.queue-next');
    const cancel = box.querySelector('.queue-cancel');
    const form = opts.typed ? '_form' : '';
    let gone = false;
    const leave = () => { gone = true; };
    cancel.addEventListener('click', leave);
    setText(msg, null);
    let res = await call();
    for (let n = 1; queueable(res, opts); n++) {
      if (n >= QUEUE_TRIES) {
        res = { ...res, gaveUp: true, typed: !!opts.typed };
        break;
      }
      if (n === 1) setText(msg, `queue.wait${form}`);
      const base = res.retryAfter || 2 ** n;
      const ms = Math.max(500, Math.min(QUEUE_MAX_WAIT, base) * (0.5 + Math.random()) * 1000);
      if (!gone) await queueWait(box, ms, n + 1, () => gone);
      if (gone) {
        res = { status: -1, data: null, retryAfter: 0, cancelled: true };
        break;
      }
      setText(next, 'queue.trying');
      res = await call();
    }
    cancel.removeEventListener('click', leave);
    wait.hidden = true;
    setText(msg, res.cancelled ? `queue.cancelled${form}` : null);
    if (res.cancelled) {
      const button = scope.querySelector('button[type="submit"]');
      if (button) button.focus();
    }
    return res;
  }

  // Shows one of the page's panels ([data-panel]) and hides the others.
  function showPanel(name, focus) {
    let shown = null;
    for (const el of document.querySelectorAll('[data-panel]')) {
      el.hidden = el.dataset.panel !== name;
      if (!el.hidden) shown = el;
    }
    if (shown && focus) {
      const h = shown.querySelector('h1, h2');
      if (h) {
        h.tabIndex = -1;
        h.focus();
      }
    }
    return shown;
  }

  function wireShowPassword() {
    for (const box of document.querySelectorAll('input[data-show]')) {
      box.closest('.check').hidden = false;
      box.addEventListener('change', () => {
        for (const id of box.dataset.show.split(' ')) {
          document.getElementById(id).type = box.checked ? 'text' : 'password';
        }
      });
    }
  }

  // The resend form (check-email, confirmed): always the same answer.
  function wireResend(form) {
    queueBox(form);
    wireForm(form, async () => {
      const email = trimWs(form.elements.email.value);
      const res = await queued(form, () => api('POST', '/api/resend', { email }), { typed: true });
      if (res.status === 202) {
        storageSet('sessionStorage', EMAIL_KEY, email);
        say(form, 'ok', { key: 'resend.done' });
        return;
      }
      showServerError(form, res);
    });
  }

  // Leaves a secret out of the address bar, the history and any Referer.
  function dropParam(name) {
    const u = new URL(location.href);
    if (!u.searchParams.has(name)) return;
    u.searchParams.delete(name);
    history.replaceState(history.state, '', u.pathname + u.search + u.hash);
  }

  // ---- the pages ------------------------------------------------------------------

  const pages = {};

  pages.signup = () => {
    const form = document.getElementById('signup');
    const f = form.elements;
    queueBox(form);
    // What was typed, but the password, lives in the tab's sessionStorage
    // until the registration is accepted: a reload (say, while waiting in
    // the queue) fills the form again. Fields the browser restored win.
    let kept = null;
    try { kept = JSON.parse(storageGet('sessionStorage', SIGNUP_KEY) || 'null'); } catch (e) { kept = null; }
    if (kept && typeof kept === 'object') {
      for (const name of ['name', 'email']) {
        if (typeof kept[name] === 'string' && f[name].value === '') f[name].value = kept[name];
      }
      if (kept.marketing_consent === true) f.marketing_consent.checked = true;
    }
    const keep = () => storageSet('sessionStorage', SIGNUP_KEY, JSON.stringify({
      name: f.name.value, email: f.email.value, marketing_consent: f.marketing_consent.checked
    }));
    form.addEventListener('input', keep);
    form.addEventListener('change', keep);
    wireForm(form, async () => {
      // read again at each call: the fields stay editable in the queue
      let body;
      const res = await queued(form, () => {
        body = {
          email: trimWs(f.email.value),
          password: f.password.value,
          name: trimWs(f.name.value),
          locale: lang,
          marketing_consent: f.marketing_consent.checked
        };
        return api('POST', '/api/register', body);
      }, { typed: true });
      if (res.status === 202) {
        storageSet('sessionStorage', EMAIL_KEY, body.email);
        storageSet('sessionStorage', SIGNUP_KEY, null);
        location.assign(href('/check-email.html'));
        return;
      }
      showServerError(form, res);
    });
    // The server sends a form posted without JavaScript back here with
    // ?error=CODE&field=FIELD.
    const code = params.get('error');
    if (code) {
      const field = params.get('field') || undefined;
      const status = { unavailable: 503, body_too_large: 413, too_many_attempts: 429 }[code] || 422;
      showServerError(form, { status, data: { error: code, field }, retryAfter: 0 });
    }
  };

  pages.check = () => {
    const email = storageGet('sessionStorage', EMAIL_KEY);
    const form = document.getElementById('resend');
    if (email) {
      setText(document.getElementById('sent-to'), 'check.sent_to', { email });
      form.elements.email.value = email;
    }
    wireResend(form);
  };

  pages.confirmed = async () => {
    const form = document.getElementById('resend');
    queueBox(document.querySelector('[data-panel="working"]'));
    wireResend(form);
    const email = storageGet('sessionStorage', EMAIL_KEY);
    if (email) form.elements.email.value = email;

    const results = ['ok', 'used', 'expired', 'invalid'];
    let result = params.get('result');
    const token = params.get('token');
    if (!result && token) {
      // A link straight to this page: confirm only when the visitor says
      // so (a mail scanner that runs scripts must not confirm).
      dropParam('token');
      showPanel('ask');
      await new Promise((resolve) => {
        document.getElementById('confirm-now').addEventListener('click', resolve, { once: true });
      });
      const working = showPanel('working');
      const res = await queued(working, () => api('POST', '/api/confirm', { token }));
      const code = res.data && res.data.error;
      if (res.status === 200) result = 'ok';
      else if (code === 'token_used') result = 'used';
      else if (code === 'token_expired') result = 'expired';
      else if (res.status === 400 || res.status === 410 || code === 'invalid_token') result = 'invalid';
      else {
        showPanel('error');
        say(document.querySelector('[data-panel="error"]'), 'error', describe(res));
        return;
      }
      const u = new URL(location.href);
      u.searchParams.set('result', result);
      history.replaceState(history.state, '', u.pathname + u.search + u.hash);
    }
    if (!results.includes(result)) result = 'invalid';
    showPanel(result);
    form.hidden = !(result === 'expired' || result === 'invalid');
  };

  // The landing page of the emailed link: its form posts back to the
  // address it was served at (/confirm?token=...), scripts or not.
  pages.confirm = () => {
    const form = document.getElementById('confirm');
    if (!params.get('token')) {
      form.hidden = true;
      document.getElementById('confirm-invalid').hidden = false;
      return;
    }
    // With scripts the post goes through fetch, so that a 503 (JSON) can
    // wait in the queue instead of replacing the page; the module's 303 is
    // followed to the result page. Any other answer: the plain post again.
    const button = form.querySelector('button[type="submit"]');
    queueBox(form);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      const body = new URLSearchParams(new FormData(form));
      const res = await queued(form, () => api('POST', form.action, body));
      if (res.status >= 200 && res.status < 300 && res.redirected) {
        location.assign(res.url);
        return;
      }
      button.disabled = false;
      if (res.cancelled) {
        button.focus();
        return;
      }
      if (res.gaveUp) {
        say(form, 'error', describe(res));
        return;
      }
      HTMLFormElement.prototype.submit.call(form);
    });
  };

  pages.login = () => {
    const form = document.getElementById('login');
    const resend = document.getElementById('login-resend');
    if (params.get('logged_out')) say(form, 'ok', { key: 'login.logged_out' });
    else if (params.get('next')) say(form, 'ok', { key: 'login.needed' });
    const next = params.get('next') === 'admin' ? '/admin.html' : '/account.html';

    queueBox(form);
    wireForm(form, async () => {
      resend.hidden = true;
      const email = trimWs(form.elements.email.value);
      const res = await queued(form, () => api('POST', '/api/login',
        { email, password: form.elements.password.value }), { typed: true, throttle: true });
      const code = res.data && res.data.error;
      if (res.status === 200) {
        location.assign(href(next));
        return;
      }
      if (res.status === 401 || code === 'invalid_credentials') {
        say(form, 'error', { key: 'login.invalid' });
        return;
      }
      if (code === 'unconfirmed') {
        say(form, 'error', { key: 'login.unconfirmed' });
        resend.hidden = false;
        return;
      }
      if (code === 'account_disabled') {
        say(form, 'error', { key: 'login.disabled' });
        return;
      }
      showServerError(form, res);
    });

    resend.addEventListener('click', async () => {
      if (form.getAttribute('aria-busy') === 'true') return;
      const email = trimWs(form.elements.email.value);
      form.setAttribute('aria-busy', 'true');
      let res;
      try {
        res = await queued(form, () => api('POST', '/api/resend', { email }), { typed: true });
      } finally {
        form.removeAttribute('aria-busy');
      }
      if (res.status === 202) {
        resend.hidden = true;
        say(form, 'ok', { key: 'resend.done' });
        form.querySelector('.status').focus();   // the button is gone
        return;
      }
      showServerError(form, res);
    });
  };

  pages.account = async () => {
    const panel = document.querySelector('[data-panel="error"]');
    const main = document.querySelector('main');
    queueBox(main);
    const res = await queued(main, () => api('GET', '/api/me'));
    if (res.status === 200 && res.data && res.data.email) {
      const me = res.data;
      setText(document.getElementById('hello'), 'account.hello', { name: me.name || me.email });
      document.getElementById('me-name').textContent = me.name || '';
      document.getElementById('me-email').textContent = me.email;
      setText(document.getElementById('me-locale'), `lang.${me.locale === 'en' ? 'en' : 'es'}`);
      const status = document.getElementById('me-status');
      if (`status.${me.status}` in STRINGS.es) setText(status, `status.${me.status}`);
      else setRaw(status, me.status || '');
      const role = document.getElementById('me-role');
      if (`role.${me.role}` in STRINGS.es) setText(role, `role.${me.role}`);
      else setRaw(role, me.role || '');
      document.getElementById('admin-link').hidden = me.role !== 'admin';
      showPanel('me');
    } else if (res.status === 401) {
      showPanel('out');
    } else {
      showPanel('error');
      say(panel, 'error', describe(res));
    }

    const logout = document.getElementById('logout');
    logout.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await queued(main, () => api('POST', '/api/logout'));
      if (r.cancelled) return;
      if (r.status === 204 || r.status === 200 || r.status === 401) {
        location.assign(href('/login.html?logged_out=1'));
        return;
      }
      say(logout, 'error', describe(r));
    });
  };

  pages.reset = () => {
    const form = document.getElementById('reset');
    queueBox(form);
    wireForm(form, async () => {
      const res = await queued(form, () => api('POST', '/api/reset',
        { email: trimWs(form.elements.email.value) }), { typed: true });
      if (res.status === 202) {
        showPanel('done', true);
        return;
      }
      showServerError(form, res);
    });
  };

  pages.resetComplete = () => {
    // The token leaves the address bar at once; the tab keeps it for a reload.
    const token = params.get('token') || storageGet('sessionStorage', RESET_KEY);
    if (params.get('token')) storageSet('sessionStorage', RESET_KEY, token);
    dropParam('token');
    const bad = (key) => {
      setText(document.getElementById('bad-reason'), key);
      showPanel('bad');
    };
    if (!token) {
      bad('resetc.invalid');
      return;
    }
    const form = document.getElementById('reset-complete');
    queueBox(form);
    wireForm(form, async () => {
      const res = await queued(form, () => api('POST', '/api/reset/complete',
        { token, password: form.elements.password.value }), { typed: true });
      const code = res.data && res.data.error;
      if (res.status === 200) {
        storageSet('sessionStorage', RESET_KEY, null);
        showPanel('done', true);
        return;
      }
      if (code === 'token_used') bad('resetc.used');
      else if (code === 'token_expired') bad('resetc.expired');
      else if (code === 'invalid_token' || res.status === 410) bad('resetc.invalid');
      else {
        showServerError(form, res);
        return;
      }
      storageSet('sessionStorage', RESET_KEY, null);
    });
  };

  pages.admin = () => {
    const STATES = ['all', 'pending', 'confirmed', 'disabled', 'email_sent', 'crm_synced', 'dead'];
    const PER_PAGE = 50;
    const form = document.getElementById('filter');
    const select = form.elements.state;
    const body = document.getElementById('users-body');
    const caption = document.getElementById('users-caption');
    const prev = document.getElementById('prev');
    const next = document.getElementById('next');
    const notice = document.getElementById('list-status');
    let state = 'all';
    let page = 1;
    let last = null;

    function fromUrl() {
      const p = new URLSearchParams(location.search);
      state = STATES.includes(p.get('state')) ? p.get('state') : 'all';
      page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
      select.value = state;
    }

    function toUrl() {
      const u = new URL(location.href);
      u.searchParams.set('state', state);
      u.searchParams.set('page', String(page));
      history.pushState(null, '', u.pathname + u.search);
    }

    function cell(tr, text, key) {
      const td = document.createElement('td');
      if (key) setText(td, key);
      else td.textContent = text;
      tr.appendChild(td);
    }

    function render() {
      if (!last) return;
      const fmt = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'es-ES',
        { dateStyle: 'medium', timeStyle: 'short' });
      const pages = Math.max(1, Math.ceil(last.total / (last.per_page || PER_PAGE)));
      setText(caption, 'admin.caption',
        { state: t(`admin.state.${state}`), page: last.page, pages, total: last.total });
      body.replaceChildren();
      for (const u of last.users) {
        const tr = document.createElement('tr');
        cell(tr, u.email);
        cell(tr, u.name);
        const status = `status.${u.status}`;
        if (status in STRINGS.es) cell(tr, null, status);
        else cell(tr, String(u.status || ''));
        const when = new Date(u.created_at);
        cell(tr, Number.isNaN(when.getTime()) ? String(u.created_at || '') : fmt.format(when));
        cell(tr, null, u.email_sent ? 'yes' : 'no');
        cell(tr, null, u.crm_synced ? 'yes' : 'no');
        cell(tr, null, u.dead_lettered ? 'yes' : 'no');
        body.appendChild(tr);
      }
      document.getElementById('users-empty').hidden = last.users.length > 0;
      prev.hidden = last.page <= 1;
      next.hidden = last.page >= pages;
    }

    const main = document.querySelector('main');
    queueBox(main);
    async function load() {
      setText(notice, 'loading');
      const res = await queued(main, () => api('GET',
        `/api/admin/users?state=${encodeURIComponent(state)}&page=${page}&per_page=${PER_PAGE}`));
      setText(notice, null);
      if (res.status === 200 && res.data && Array.isArray(res.data.users)) {
        last = res.data;
        showPanel('list');
        render();
      } else if (res.status === 401) {
        showPanel('out');
      } else if (res.status === 403) {
        showPanel('forbidden');
      } else {
        showPanel('error');
        say(document.querySelector('[data-panel="error"]'), 'error', describe(res));
      }
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      state = select.value;
      page = 1;
      toUrl();
      load();
    });
    prev.addEventListener('click', () => { page -= 1; toUrl(); load(); });
    next.addEventListener('click', () => { page += 1; toUrl(); load(); });
    window.addEventListener('popstate', () => { fromUrl(); load(); });
    langHooks.push(render);
    fromUrl();
    load();
  };

  // ---- start ------------------------------------------------------------------------

  // What works only with JavaScript is hidden in the HTML and shown here.
  for (const el of document.querySelectorAll('.js-only')) el.hidden = false;
  initLangSwitch();
  wireShowPassword();
  translate();
  const init = pages[document.body.dataset.page];
  if (init) init();
})();
