// The pages under overload: a 503 or a short 429 puts the visitor in a
// queue (said in an aria-live status line, with a countdown, a progress bar
// and a way out), the call is tried again after Retry-After with jitter, a
// bounded number of times, and nothing typed is ever lost.
//
// The 503s are the module's own: t/070-browser.t starts a second nginx
// (XYZ_OVERLOAD_URL) whose database is reached through a TCP relay that this
// suite runs on XYZ_OVERLOAD_PG_RELAY. While the relay drops every
// connection the module answers 503 with Retry-After; once it forwards to
// PostgreSQL (XYZ_OVERLOAD_PG) again the retry goes through. The login
// throttle's 429 is the first nginx's, for real too; the account page and
// the giving up use stubbed answers of the documented API.

import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, MAILDEV_API, axeViolations, launch, newContext, skipReason, strings, stub, waitText, watchConsole
} from './lib.mjs';

const S = strings();
const OVERLOAD = (process.env.XYZ_OVERLOAD_URL || '').replace(/\/+$/, '');
const RELAY_PORT = Number(process.env.XYZ_OVERLOAD_PG_RELAY || 0);
const [PG_HOST, PG_PORT] = (process.env.XYZ_OVERLOAD_PG || ':').split(':');
const noRelay = skipReason
  || (!OVERLOAD && 'XYZ_OVERLOAD_URL is not set (t/070-browser.t starts that nginx)');

const tag = `${Date.now().toString(36)}${process.pid}`;
const PASSWORD = `cola larga ${tag} en la puerta`;
const fmt = (s, vars) => s.replace(/\{(\w+)\}/g, (m, k) => String(vars[k]));

let browser;
let relay;
let relayUp = false;
const relayed = new Set();

// The database's way in: "down" drops every connection at once (and the
// open ones), "up" forwards to PostgreSQL.
function setRelay(up) {
  relayUp = up;
  if (!up) for (const s of relayed) s.destroy();
}

before(async () => {
  if (skipReason) return;
  browser = await launch();
  if (noRelay) return;
  relay = net.createServer((client) => {
    if (!relayUp) {
      client.destroy();
      return;
    }
    const server = net.connect(Number(PG_PORT), PG_HOST);
    relayed.add(client);
    relayed.add(server);
    const drop = () => {
      client.destroy();
      server.destroy();
      relayed.delete(client);
      relayed.delete(server);
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(RELAY_PORT, '127.0.0.1', resolve);
  });
});

after(async () => {
  if (relay) {
    setRelay(false);
    await new Promise((resolve) => relay.close(resolve));
  }
  if (browser) await browser.close();
});

async function open(t, base, path, lang = 'es', stubs = []) {
  const context = await newContext(browser, lang);
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = watchConsole(page);
  t.after(() => assert.deepEqual(errors, [], 'no console errors'));
  for (const [route, reply] of stubs) await stub(page, route, reply);
  const res = await page.goto(base + path, { waitUntil: 'load' });
  await page.waitForFunction(() => !document.querySelector('nav.lang')
    || !document.querySelector('nav.lang').hidden);
  return { page, res };
}

// Every answer to `path`: status, Retry-After, and when it came (ms).
function answers(page, path) {
  const list = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === path) {
      list.push({ status: r.status(), retryAfter: r.headers()['retry-after'], at: Date.now() });
    }
  });
  return list;
}

// A text with {placeholders} as a pattern where each one is a number.
function pattern(text) {
  return new RegExp(`^${text.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '\\d+')}$`);
}

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The queue as a visitor meets it inside `scope`: the status line (a live
// region), the countdown, the progress bar and the way out.
async function queueState(page, scope) {
  return page.evaluate((sel) => {
    const box = document.querySelector(`${sel} .queue`);
    if (!box) return null;
    const msg = box.querySelector('.queue-msg');
    const next = box.querySelector('.queue-next');
    const bar = box.querySelector('progress');
    const cancel = box.querySelector('button.queue-cancel');
    const shown = (el) => !!el && el.offsetParent !== null && el.getBoundingClientRect().height > 0;
    return {
      msg: msg ? msg.textContent : null,
      role: msg && msg.getAttribute('role'),
      live: msg && msg.getAttribute('aria-live'),
      next: next ? next.textContent : null,
      nextShown: shown(next),
      bar: shown(bar),
      barLabel: bar && bar.getAttribute('aria-label'),
      cancel: shown(cancel) ? cancel.textContent : null
    };
  }, scope);
}

async function fillSignup(page, who) {
  await page.fill('#name', who.name);
  await page.fill('#email', who.email);
  await page.fill('#password', PASSWORD);
  await page.check('#marketing_consent');
}

async function signupValues(page) {
  return {
    name: await page.inputValue('#name'),
    email: await page.inputValue('#email'),
    password: await page.inputValue('#password'),
    consent: await page.isChecked('#marketing_consent')
  };
}

// `typed`: a form with fields, whose texts say that they are kept.
async function assertInQueue(page, scope, lang = 'es', typed = true) {
  const key = typed ? 'queue.wait_form' : 'queue.wait';
  const q = await until('the queue to show', async () => {
    const s = await queueState(page, scope);
    return s && s.msg === S[lang][key] && s.nextShown ? s : null;
  });
  assert.equal(q.role, 'status', 'the queue line is a status');
  assert.equal(q.live, 'polite', 'and a polite live region');
  assert.match(q.next, pattern(S[lang]['queue.next']), 'a countdown');
  assert.ok(q.bar, 'a progress bar');
  assert.equal(q.barLabel, S[lang]['queue.progress']);
  assert.equal(q.cancel, S[lang]['queue.cancel'], 'a way out');
  return q;
}

describe('under a real 503 from the module', { skip: noRelay }, () => {
  test('sign-up: in the queue, retried after Retry-After, then accepted; nothing typed lost', async (t) => {
    setRelay(false);
    const { page } = await open(t, OVERLOAD, '/index.html');
    const got = answers(page, '/api/register');
    const who = { name: 'Cola Paciente', email: `queue-${tag}@example.com` };
    await fillSignup(page, who);
    await page.click('#signup button[type="submit"]');

    await assertInQueue(page, '#signup');
    assert.equal(got[0].status, 503, 'the module answered 503');
    assert.match(got[0].retryAfter || '', /^\d+$/, 'with Retry-After');
    assert.deepEqual(await signupValues(page), { ...who, password: PASSWORD, consent: true },
      'every field still filled');
    assert.equal(await page.textContent('#signup .alert'), '', 'no error while queued');
    assert.deepEqual(await axeViolations(page), [], 'axe while queued');

    // a second try while still down, not sooner than half of Retry-After
    await until('a second 503', () => got.length >= 2);
    const gap = got[1].at - got[0].at;
    assert.ok(gap >= Number(got[0].retryAfter) * 500 - 100, `waited ${gap} ms`);
    assert.equal(got[1].status, 503);

    setRelay(true);
    await page.waitForURL('**/check-email.html', { timeout: 30000 });
    assert.equal(got[got.length - 1].status, 202, 'accepted at last');
    assert.ok(got.length <= 8, `${got.length} tries, bounded`);
    await waitText(page.locator('#sent-to'), fmt(S.es['check.sent_to'], { email: who.email }));
    assert.equal(await page.locator('#sent-to').textContent(),
      fmt(S.es['check.sent_to'], { email: who.email }));
  });

  test('sign-up: leaving the queue stops the tries and keeps everything; sending again works (English)', async (t) => {
    setRelay(false);
    const { page } = await open(t, OVERLOAD, '/index.html', 'en');
    const got = answers(page, '/api/register');
    const who = { name: 'Quinn Queue', email: `leave-${tag}@example.com` };
    await fillSignup(page, who);
    await page.click('#signup button[type="submit"]');
    await assertInQueue(page, '#signup', 'en');
    await page.click('#signup button.queue-cancel');
    await waitText(page.locator('#signup .queue-msg'), S.en['queue.cancelled_form']);
    assert.equal(await page.locator('#signup .queue-msg').textContent(), S.en['queue.cancelled_form']);
    const q = await queueState(page, '#signup');
    assert.equal(q.cancel, null, 'no way out left to show');
    assert.equal(q.bar, false, 'no progress bar');
    assert.ok(await page.evaluate(() => document.activeElement
      === document.querySelector('#signup button[type="submit"]')), 'focus back on the button');
    const n = got.length;
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(got.length, n, 'no try after leaving the queue');
    assert.deepEqual(await signupValues(page), { ...who, password: PASSWORD, consent: true });

    setRelay(true);
    await page.click('#signup button[type="submit"]');
    await page.waitForURL('**/check-email.html', { timeout: 30000 });
  });

  test('sign-up: a reload brings back name, address and consent, never the password', async (t) => {
    setRelay(false);
    const { page } = await open(t, OVERLOAD, '/index.html');
    const who = { name: 'Recarga Segura', email: `reload-${tag}@example.com` };
    await fillSignup(page, who);
    await page.click('#signup button[type="submit"]');
    await assertInQueue(page, '#signup');
    await page.reload({ waitUntil: 'load' });
    await until('the fields back', async () => (await page.inputValue('#email')) === who.email);
    assert.deepEqual(await signupValues(page), { ...who, password: '', consent: true });
    const kept = await page.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
    assert.ok(!kept.includes(PASSWORD), 'the password is not kept in storage');
  });

  test('the confirmation link\'s page: its POST queued, retried, and the account confirmed', {
    skip: !MAILDEV_API && 'TEST_NGINX_MAILDEV_API is not set'
  }, async (t) => {
    setRelay(true);
    const email = `confirm-q-${tag}@example.com`;
    const reg = await fetch(`${BASE}/api/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: BASE },
      body: JSON.stringify({ email, password: PASSWORD, name: 'Ana Cola', locale: 'es' })
    });
    assert.equal(reg.status, 202);
    const link = await linkFor(email);
    const token = new URL(link).searchParams.get('token');

    setRelay(false);
    const { page } = await open(t, OVERLOAD, `/confirm?token=${token}`);
    const got = answers(page, '/confirm');
    await page.click('#confirm button[type="submit"]');
    await assertInQueue(page, '#confirm', 'es', false);
    assert.equal(got[0].status, 503);
    assert.match(page.url(), /\/confirm\?token=/, 'still on the link\'s page');
    setRelay(true);
    await page.waitForURL('**/confirmed.html?result=ok*', { timeout: 30000 });
    await page.locator('[data-panel="ok"]').waitFor();
  });
});

describe('a real 429 from the login throttle', { skip: skipReason }, () => {
  test('says how long to wait, and does not try again by itself', async (t) => {
    const { page } = await open(t, BASE, '/login.html');
    const got = answers(page, '/api/login');
    await page.fill('#email', `throttled-${tag}@example.com`);
    await page.fill('#password', 'not the password at all');
    for (let i = 0; i < 8 && !got.some((a) => a.status === 429); i++) {
      const n = got.length;
      await page.click('#login button[type="submit"]');
      await until('an answer', () => got.length > n);
      await until('the form free', async () => (await page.getAttribute('#login', 'aria-busy')) === null);
    }
    const throttled = got.find((a) => a.status === 429);
    assert.ok(throttled, 'the module throttled the guesses');
    const secs = Number(throttled.retryAfter);
    assert.ok(secs > 0, 'with Retry-After');
    const want = secs < 90 ? fmt(S.es['err.too_many_wait'], { seconds: secs })
      : fmt(S.es['err.too_many_wait_min'], { minutes: Math.ceil(secs / 60) });
    assert.equal(await waitText(page.locator('#login .alert'), want), want);
    const n = got.length;
    await new Promise((r) => setTimeout(r, Math.min(secs, 5) * 1000 + 1500));
    assert.equal(got.length, n, 'no try on its own');
    const q = await queueState(page, '#login');
    assert.ok(!q || !q.cancel, 'no queue for a throttle');
    assert.equal(await page.inputValue('#password'), 'not the password at all', 'nothing cleared');
  });
});

describe('the queue, with stubbed answers', { skip: skipReason }, () => {
  test('account: a 503 whose Retry-After is a date, then the account', async (t) => {
    let n = 0;
    const { page } = await open(t, BASE, '/account.html', 'en', [['/api/me', () => (++n === 1
      ? {
        status: 503,
        body: { error: 'unavailable', message: 'busy' },
        headers: { 'Retry-After': new Date(Date.now() + 2000).toUTCString() }
      }
      : { status: 200, body: { id: 1, email: 'ana@example.com', name: 'Ana', role: 'user', locale: 'en', status: 'confirmed' } })]]);
    await assertInQueue(page, 'main', 'en', false);
    await page.locator('[data-panel="me"]').waitFor({ timeout: 15000 });
    assert.equal(await page.locator('#me-email').textContent(), 'ana@example.com');
    assert.equal(n, 2);
  });

  test('reset: a short 429 is queued too, then accepted', async (t) => {
    const replies = [
      { status: 429, body: { error: 'too_many_attempts' }, headers: { 'Retry-After': '1' } },
      { status: 202, body: { status: 'accepted' } },
    ];
    const { page } = await open(t, BASE, '/reset.html', 'es', [['/api/reset', () => replies.shift()
      || { status: 429, body: { error: 'too_many_attempts' }, headers: { 'Retry-After': '600' } }]]);
    await page.fill('#email', 'ana@example.com');
    await page.click('#reset button[type="submit"]');
    await assertInQueue(page, '#reset');
    await page.locator('[data-panel="done"]').waitFor({ timeout: 15000 });
  });

  test('giving up after a bounded number of tries, the form intact', async (t) => {
    let n = 0;
    const { page } = await open(t, BASE, '/index.html', 'es', [['/api/register', () => {
      n++;
      return { status: 503, body: { error: 'unavailable' }, headers: { 'Retry-After': '1' } };
    }]]);
    const who = { name: 'Sin Suerte', email: 'nadie@example.com' };
    await fillSignup(page, who);
    await page.click('#signup button[type="submit"]');
    await assertInQueue(page, '#signup');
    await waitText(page.locator('#signup .alert'), S.es['queue.gave_up_form'], 30000);
    assert.equal(await page.locator('#signup .alert').textContent(), S.es['queue.gave_up_form']);
    assert.ok(n >= 3 && n <= 8, `${n} tries`);
    const q = await queueState(page, '#signup');
    assert.ok(!q.cancel && !q.bar, 'out of the queue');
    assert.deepEqual(await signupValues(page), { ...who, password: PASSWORD, consent: true });
  });
});

// The confirmation link in the first email maildev caught for `address`.
async function linkFor(address, secs = 60) {
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    const res = await fetch(`${MAILDEV_API}/email`).catch(() => null);
    if (res && res.ok) {
      for (const m of await res.json()) {
        const to = ((m.envelope && m.envelope.to) || m.to || []).map((r) => String(r.address).toLowerCase());
        const link = to.includes(address)
          && /https?:\/\/[^\s"<>]+\/confirm\?token=[A-Za-z0-9_-]+/.exec(`${m.text || ''}\n${m.html || ''}`);
        if (link) return link[0];
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no email to ${address} within ${secs} s`);
}
