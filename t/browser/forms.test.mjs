// The forms: the browser's checks (the server's rules) put each message
// next to its field (aria-invalid, aria-describedby, focus on the first
// field at fault); the server's JSON errors land next to the field they
// name — for real where the module has the route (registration), and from
// stubbed answers of the documented API for the routes in the works.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  axeViolations, fieldState, goto, launch, newContext, skipReason, strings, stub, waitText,
  watchConsole
} from './lib.mjs';

const S = strings();
let browser;

before(async () => { if (!skipReason) browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

// A fresh browser context on `path`, with API stubs ([route, reply] pairs)
// in place before the page loads; console errors fail the test.
async function open(t, path, lang = 'es', stubs = []) {
  const context = await newContext(browser, lang);
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = watchConsole(page);
  t.after(() => assert.deepEqual(errors, [], 'no console errors'));
  for (const [route, reply] of stubs) await stub(page, route, reply);
  await goto(page, path);
  return page;
}

// The field shows `text`, is marked invalid and points at its message.
async function assertFieldError(page, id, text, msg) {
  await waitText(page.locator(`#${id}-error`), text);
  const st = await fieldState(page, id);
  assert.equal(st.text, text, `${msg || id}: message`);
  assert.ok(st.invalid, `${msg || id}: aria-invalid`);
  assert.ok(st.linked, `${msg || id}: aria-describedby names the message`);
  assert.ok(st.visible, `${msg || id}: message visible`);
}

async function assertText(locator, want, msg) {
  assert.equal(await waitText(locator, want), want, msg);
}

async function assertFieldOk(page, id) {
  const st = await fieldState(page, id);
  assert.equal(st.text, '', `${id}: no message`);
  assert.equal(st.invalid, false, `${id}: not invalid`);
  assert.equal(st.linked, false, `${id}: no link to an empty message`);
}

const fmt = (s, vars) => s.replace(/\{(\w+)\}/g, (m, k) => String(vars[k]));

describe('sign-up form', { skip: skipReason }, () => {
  test('empty: every required field says so, focus on the first', async (t) => {
    const page = await open(t, '/index.html');
    await page.click('button[type="submit"]');
    await assertFieldError(page, 'name', S.es['err.required.name']);
    await assertFieldError(page, 'email', S.es['err.required.email']);
    await assertFieldError(page, 'password', S.es['err.required.password']);
    assert.ok((await fieldState(page, 'name')).focused, 'focus on the name');
    // the hint stays described too
    assert.match(await page.getAttribute('#password', 'aria-describedby'), /password-hint/);
    assert.deepEqual(await axeViolations(page), [], 'axe with the errors shown');
  });

  test('the server\'s rules, checked in the browser (English)', async (t) => {
    const page = await open(t, '/index.html', 'en');
    const cases = [
      ['email', 'ana@localhost', S.en['err.email']],
      ['email', 'ana@example.123', S.en['err.email']],
      ['email', 'ana..p@example.com', S.en['err.email']],
      ['email', '.ana@example.com', S.en['err.email']],
      ['email', 'ana@-example.com', S.en['err.email']],
      ['email', 'ana@exa_mple.com', S.en['err.email']],
      ['email', `${'a'.repeat(65)}@example.com`, S.en['err.email']],
      ['email', 'josé@example.com', S.en['err.email_ascii']],
      ['password', 'eleven char', fmt(S.en['err.too_short'], { min: 12, n: 11 })],
      ['password', '🙂'.repeat(11), fmt(S.en['err.too_short'], { min: 12, n: 11 })],
      ['password', 'x'.repeat(257), fmt(S.en['err.too_long'], { max: 256, n: 257 })],
      ['name', 'n'.repeat(101), fmt(S.en['err.too_long'], { max: 100, n: 101 })],
      ['name', '   ', S.en['err.required.name']]
    ];
    for (const [id, value, want] of cases) {
      await page.fill(`#${id}`, value);
      await page.click('button[type="submit"]');
      await assertFieldError(page, id, want, `${id}=${JSON.stringify(value).slice(0, 30)}`);
    }
    // accepted as the server accepts them
    for (const [id, value] of [
      ['email', '  Ana.P+tag@Sub.Example-Site.com '], ['password', '🙂'.repeat(12)],
      ['password', ' twelve chars'], ['name', '  Ana  ']]) {
      await page.fill(`#${id}`, value);
      await page.locator(`#${id}`).blur();
      await assertFieldOk(page, id);
    }
  });

  test('a message goes away once the field is right', async (t) => {
    const page = await open(t, '/index.html');
    await page.click('button[type="submit"]');
    await page.fill('#email', 'ana@example.com');
    await assertFieldOk(page, 'email');
    await page.fill('#name', 'Ana');
    await assertFieldOk(page, 'name');
  });

  test('keyboard only: tab through the form and send it with Enter', async (t) => {
    const page = await open(t, '/index.html');
    await page.focus('#name');
    await page.keyboard.type('Ana');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'email');
    await page.keyboard.type('not-an-address');
    await page.keyboard.press('Enter');
    await assertFieldError(page, 'email', S.es['err.email']);
    assert.ok((await fieldState(page, 'email')).focused);
    // a visible focus indicator
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focused field has an outline');
  });

  test('the server\'s own 422 shows next to the field (browser check bypassed)', async (t) => {
    const page = await open(t, '/index.html', 'en');
    await page.fill('#name', 'Ana');
    await page.fill('#email', `bypass-${Date.now()}@example.com`);
    // what a visitor could do with the developer tools: drop the length rule
    await page.evaluate(() => document.getElementById('password').removeAttribute('minlength'));
    await page.fill('#password', 'short');
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/register'));
    await page.click('button[type="submit"]');
    const res = await answer;
    assert.equal(res.status(), 422, 'the module refused it');
    const body = await res.json();
    assert.equal(body.field, 'password');
    const m = /(\d+)\D+(\d+)/.exec(body.message);
    assert.ok(m, `bounds in "${body.message}"`);
    await assertFieldError(page, 'password', fmt(S.en['err.password_length'], { min: m[1], max: m[2] }));
    assert.ok((await fieldState(page, 'password')).focused);
  });

  test('an error handed back to the plain form (?error=&field=) shows next to the field', async (t) => {
    const page = await open(t, '/index.html?error=invalid_field&field=email');
    await assertFieldError(page, 'email', S.es['err.email']);
    const page2 = await open(t, '/index.html?error=missing_field&field=name&lang=en');
    await assertFieldError(page2, 'name', S.en['err.required.name']);
  });

  test('a network failure is said in the form\'s alert (a 503: overload.test.mjs)', async (t) => {
    const page = await open(t, '/index.html');
    await page.route((url) => url.pathname === '/api/register', (route) => route.abort('connectionrefused'));
    await page.fill('#name', 'Ana');
    await page.fill('#email', 'ana@example.com');
    await page.fill('#password', 'correct horse battery staple');
    await page.click('button[type="submit"]');
    await assertText(page.locator('#signup .alert'), S.es['err.network']);
    assert.equal(await page.getAttribute('#signup .alert', 'role'), 'alert');
    assert.equal(await page.inputValue('#password'), 'correct horse battery staple', 'nothing cleared');
  });

  test('a 202 leads to "check your email", which names the address', async (t) => {
    const page = await open(t, '/index.html', 'en');
    let sent;
    await stub(page, '/api/register', (req) => {
      sent = { body: JSON.parse(req.postData()), type: req.headers()['content-type'] };
      return { status: 202, body: { status: 'accepted', message: 'Check your inbox' } };
    });
    await page.fill('#name', '  Ana Pérez ');
    await page.fill('#email', 'ana@example.com');
    await page.fill('#password', 'correct horse battery staple');
    await page.check('#marketing_consent');
    await page.click('button[type="submit"]');
    await page.waitForURL('**/check-email.html');
    assert.equal(sent.type, 'application/json');
    assert.deepEqual(sent.body, {
      email: 'ana@example.com', password: 'correct horse battery staple', name: 'Ana Pérez',
      locale: 'en', marketing_consent: true
    });
    await assertText(page.locator('#sent-to'),
      S.en['check.sent_to'].replace('{email}', 'ana@example.com'));
    assert.equal(await page.inputValue('#email'), 'ana@example.com', 'resend form filled in');
  });

  test('show the password', async (t) => {
    const page = await open(t, '/index.html');
    assert.equal(await page.getAttribute('#password', 'type'), 'password');
    await page.check('#show-password');
    assert.equal(await page.getAttribute('#password', 'type'), 'text');
  });
});

describe('resend forms', { skip: skipReason }, () => {
  test('check-email: empty, then accepted, then too soon', async (t) => {
    const page = await open(t, '/check-email.html');
    await page.click('#resend button[type="submit"]');
    await assertFieldError(page, 'email', S.es['err.required.email']);
    let n = 0;
    await stub(page, '/api/resend', () => (++n === 1
      ? { status: 202, body: { status: 'accepted' } }
      : { status: 429, body: { error: 'too_many_attempts' }, headers: { 'Retry-After': '30' } }));
    await page.fill('#email', 'ana@example.com');
    await page.click('#resend button[type="submit"]');
    await assertText(page.locator('#resend .status'), S.es['resend.done']);
    await page.click('#resend button[type="submit"]');
    await assertText(page.locator('#resend .alert'),
      fmt(S.es['err.too_many_wait'], { seconds: 30 }));
    await assertText(page.locator('#resend .status'), '', 'the old news is gone');
  });

  test('confirmed?result=expired: a bad address, then accepted', async (t) => {
    const page = await open(t, '/confirmed.html?result=expired', 'en');
    await page.fill('#email', 'ana@');
    await page.click('#resend button[type="submit"]');
    await assertFieldError(page, 'email', S.en['err.email']);
    await stub(page, '/api/resend', { status: 202, body: { status: 'accepted' } });
    await page.fill('#email', 'ana@example.com');
    await page.click('#resend button[type="submit"]');
    await assertText(page.locator('#resend .status'), S.en['resend.done']);
  });

  test('confirmed?token=: confirms through the API after a click, the token leaves the address', async (t) => {
    const context = await newContext(browser, 'es');
    t.after(() => context.close());
    const page = await context.newPage();
    let token;
    await stub(page, '/api/confirm', (req) => {
      token = JSON.parse(req.postData()).token;
      return { status: 200, body: { status: 'confirmed' } };
    });
    await goto(page, '/confirmed.html?token=tok123');
    await page.locator('[data-panel="ask"]').waitFor();
    await page.waitForTimeout(300);
    assert.equal(token, undefined, 'opening the page confirms nothing');
    await page.click('#confirm-now');
    await page.locator('[data-panel="ok"]').waitFor();
    assert.equal(token, 'tok123');
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('token'), null);
    assert.equal(url.searchParams.get('result'), 'ok');
    for (const [code, status, want] of [['token_used', 410, 'used'], ['token_expired', 410, 'expired'],
      ['invalid_token', 400, 'invalid']]) {
      await page.unrouteAll();
      await stub(page, '/api/confirm', { status, body: { error: code } });
      await goto(page, '/confirmed.html?token=t');
      await page.click('#confirm-now');
      await page.locator(`[data-panel="${want}"]`).waitFor();
    }
  });
});

describe('confirmation landing page', { skip: skipReason }, () => {
  test('opening it posts nothing; its button posts the form back to the address it was opened at', async (t) => {
    const context = await newContext(browser, 'en');
    t.after(() => context.close());
    const page = await context.newPage();
    const posts = [];
    await page.route('**/confirm.html?token=tok456', (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posts.push(route.request().url());
      return route.fulfill({ status: 303, headers: { Location: '/confirmed.html?result=ok' } });
    });
    await goto(page, '/confirm.html?token=tok456');
    await page.waitForTimeout(300);
    assert.equal(posts.length, 0, 'opening the page posts nothing');
    assert.equal(await page.locator('#confirm button[type="submit"]').textContent(), S.en['confirm.submit']);
    await page.click('#confirm button[type="submit"]');
    await page.waitForURL('**/confirmed.html?result=ok');
    assert.equal(posts.length, 1, 'one post');
    assert.match(posts[0], /\/confirm\.html\?token=tok456$/, 'to the address of the page, token and all');
  });

  test('without a token it says the link is incomplete', async (t) => {
    const page = await open(t, '/confirm.html', 'en');
    await page.locator('#confirm-invalid').waitFor();
    assert.equal(await page.locator('#confirm').isVisible(), false);
  });
});

describe('login form', { skip: skipReason }, () => {
  test('empty, then a bad address', async (t) => {
    const page = await open(t, '/login.html');
    await page.click('#login button[type="submit"]');
    await assertFieldError(page, 'email', S.es['err.required.email']);
    await assertFieldError(page, 'password', S.es['err.required.current_password']);
    await page.fill('#email', 'ana@example');
    await page.click('#login button[type="submit"]');
    await assertFieldError(page, 'email', S.es['err.email']);
  });

  test('wrong credentials, unconfirmed (with resend), too many attempts, success', async (t) => {
    const page = await open(t, '/login.html', 'en');
    const answers = [
      { status: 401, body: { error: 'invalid_credentials' } },
      { status: 403, body: { error: 'unconfirmed' } },
      { status: 429, body: { error: 'too_many_attempts' }, headers: { 'Retry-After': '60' } },
      { status: 200, body: { status: 'ok', user: { id: 1, email: 'ana@example.com', name: 'Ana', role: 'user', locale: 'en' } } }
    ];
    let sent;
    await stub(page, '/api/login', (req) => { sent = JSON.parse(req.postData()); return answers.shift(); });
    await stub(page, '/api/resend', { status: 202, body: { status: 'accepted' } });
    await stub(page, '/api/me', { status: 200, body: { id: 1, email: 'ana@example.com', name: 'Ana', role: 'user', locale: 'en', status: 'confirmed' } });
    await page.fill('#email', ' ana@example.com ');
    await page.fill('#password', 'any password at all');
    await page.click('#login button[type="submit"]');
    await assertText(page.locator('#login .alert'), S.en['login.invalid']);
    assert.deepEqual(sent, { email: 'ana@example.com', password: 'any password at all' });

    await page.click('#login button[type="submit"]');
    await assertText(page.locator('#login .alert'), S.en['login.unconfirmed']);
    assert.ok(await page.locator('#login-resend').isVisible(), 'a resend button');
    await page.click('#login-resend');
    await assertText(page.locator('#login .status'), S.en['resend.done']);
    assert.equal(await page.locator('#login-resend').isVisible(), false);

    await page.click('#login button[type="submit"]');
    await assertText(page.locator('#login .alert'),
      fmt(S.en['err.too_many_wait'], { seconds: 60 }));

    await page.click('#login button[type="submit"]');
    await page.waitForURL('**/account.html');
    await page.locator('[data-panel="me"]').waitFor();
  });
});

describe('password reset forms', { skip: skipReason }, () => {
  test('request: a bad address, then the same answer for any address', async (t) => {
    const page = await open(t, '/reset.html');
    await page.fill('#email', 'ana@@example.com');
    await page.click('#reset button[type="submit"]');
    await assertFieldError(page, 'email', S.es['err.email']);
    await stub(page, '/api/reset', { status: 202, body: { status: 'accepted' } });
    await page.fill('#email', 'ana@example.com');
    await page.click('#reset button[type="submit"]');
    await page.locator('[data-panel="done"]').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus on the news');
  });

  test('complete: the token leaves the address; length, repeat, the server\'s policy, success', async (t) => {
    const page = await open(t, '/reset-complete.html?token=reset-tok', 'en');
    assert.equal(new URL(page.url()).searchParams.get('token'), null);
    await page.fill('#password', 'too short');
    await page.click('#reset-complete button[type="submit"]');
    await assertFieldError(page, 'password', fmt(S.en['err.too_short'], { min: 12, n: 9 }));
    await assertFieldError(page, 'password2', S.en['err.required.password2']);
    await page.fill('#password', 'correct horse battery staple');
    await page.fill('#password2', 'correct horse battery stapler');
    await page.click('#reset-complete button[type="submit"]');
    await assertFieldOk(page, 'password');
    await assertFieldError(page, 'password2', S.en['err.password_mismatch']);

    const answers = [
      { status: 422, body: { error: 'invalid_field', field: 'password', message: 'password is too common' } },
      { status: 200, body: { status: 'password_changed' } }
    ];
    let sent;
    await stub(page, '/api/reset/complete', (req) => { sent = JSON.parse(req.postData()); return answers.shift(); });
    await page.fill('#password2', 'correct horse battery staple');
    await page.click('#reset-complete button[type="submit"]');
    await assertFieldError(page, 'password', S.en['err.password_common']);
    assert.deepEqual(sent, { token: 'reset-tok', password: 'correct horse battery staple' });
    await page.click('#reset-complete button[type="submit"]');
    await page.locator('[data-panel="done"]').waitFor();
  });

  for (const [code, status, key] of [['token_used', 410, 'resetc.used'],
    ['token_expired', 410, 'resetc.expired'], ['invalid_token', 400, 'resetc.invalid']]) {
    test(`complete: ${code}`, async (t) => {
      const page = await open(t, '/reset-complete.html?token=x');
      await stub(page, '/api/reset/complete', { status, body: { error: code } });
      await page.fill('#password', 'correct horse battery staple');
      await page.fill('#password2', 'correct horse battery staple');
      await page.click('#reset-complete button[type="submit"]');
      await page.locator('[data-panel="bad"]').waitFor();
      await assertText(page.locator('#bad-reason'), S.es[key]);
    });
  }
});

describe('account and admin', { skip: skipReason }, () => {
  test('log out', async (t) => {
    const page = await open(t, '/account.html', 'es', [
      ['/api/me', { status: 200, body: { id: 1, email: 'a@example.com', name: 'A', role: 'user', locale: 'es', status: 'confirmed' } }],
      ['/api/logout', { status: 204 }]
    ]);
    await page.locator('[data-panel="me"]').waitFor();
    assert.equal(await page.locator('#admin-link').isVisible(), false, 'no admin link for a user');
    await page.click('#logout button');
    await page.waitForURL('**/login.html?logged_out=1');
    await assertText(page.locator('#login .status'), S.es['login.logged_out']);
  });

  test('admin list: filter and pages go to the API and the address', async (t) => {
    const asked = [];
    const page = await open(t, '/admin.html', 'es', [['/api/admin/users', (req) => {
      const u = new URL(req.url());
      asked.push(`${u.searchParams.get('state')}:${u.searchParams.get('page')}`);
      const p = Number(u.searchParams.get('page'));
      return {
        status: 200,
        body: {
          users: [{ id: p, email: `u${p}@example.com`, name: `U${p}`, status: 'pending',
            created_at: '2026-11-27T10:00:00Z', email_sent: false, crm_synced: false, dead_lettered: true }],
          page: p, per_page: 50, total: 120
        }
      };
    }]]);
    await page.locator('#users-body tr').first().waitFor();
    assert.equal(await page.locator('#prev').isVisible(), false);
    await page.click('#next');
    await page.waitForFunction(() => document.querySelector('#users-body td').textContent === 'u2@example.com');
    assert.equal(new URL(page.url()).searchParams.get('page'), '2');
    assert.ok(await page.locator('#prev').isVisible());
    await page.selectOption('#state', 'dead');
    await page.click('#filter button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#users-body td').textContent === 'u1@example.com');
    assert.equal(new URL(page.url()).searchParams.get('state'), 'dead');
    await page.goBack();
    await page.waitForFunction(() => document.querySelector('#users-body td').textContent === 'u2@example.com');
    assert.deepEqual(asked, ['all:1', 'all:2', 'dead:1', 'all:2']);
  });
});
