// Every page in both languages: the language from the browser's
// preference, texts and <title> of that language, no console errors (CSP
// violations included), and no serious or critical axe-core violation; the
// pages' other states (results, panels, a filled table); the language
// switch sticking across pages; the pages without JavaScript.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, PAGES, axeViolations, goto, launch, newContext, skipReason, strings, stub,
  watchConsole
} from './lib.mjs';

const S = strings();
let browser;

before(async () => { if (!skipReason) browser = await launch(); });
after(async () => { if (browser) await browser.close(); });

const ME = {
  id: 7, email: 'ana@example.com', name: 'Ana Pérez', role: 'admin', locale: 'es', status: 'confirmed'
};
const USERS = {
  users: [
    { id: 1, email: 'ana@example.com', name: 'Ana Pérez', status: 'confirmed',
      created_at: '2026-11-20T10:15:00Z', email_sent: true, crm_synced: true, dead_lettered: false },
    { id: 2, email: 'bo@example.com', name: 'Bo', status: 'pending',
      created_at: '2026-11-21T08:00:00Z', email_sent: true, crm_synced: false, dead_lettered: true }
  ],
  page: 1, per_page: 50, total: 2
};

// Opens `path` in a browser preferring `lang`, with optional API stubs, and
// checks what every page must satisfy; returns the page for more checks.
async function openChecked(t, path, lang, stubs = []) {
  const context = await newContext(browser, lang);
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = watchConsole(page);
  for (const [route, reply] of stubs) await stub(page, route, reply);
  const res = await goto(page, path);
  assert.ok(res.ok() || (path.startsWith('/404') && res.status() === 200), `${path}: HTTP ${res.status()}`);
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getAttribute('html', 'lang'), lang, 'html lang');
  const h1 = page.locator('h1:visible').first();
  assert.ok(await h1.count(), 'a visible h1');
  assert.ok((await h1.textContent()).trim().length > 0, 'h1 has text');
  // No key shown instead of a text.
  const keys = await page.evaluate(() => Array.from(document.querySelectorAll('[data-i18n]'))
    .filter((el) => el.textContent === el.dataset.i18n).map((el) => el.dataset.i18n));
  assert.deepEqual(keys, [], 'every text has a translation');
  assert.deepEqual(await axeViolations(page), [], 'axe: no serious or critical violations');
  assert.deepEqual(errors, [], 'no console errors');
  return page;
}

describe('each page in each language', { skip: skipReason }, () => {
  for (const lang of ['es', 'en']) {
    for (const p of PAGES) {
      test(`${p.path} in ${lang}`, async (t) => {
        const page = await openChecked(t, p.path, lang);
        assert.equal(await page.title(), S[lang][p.title]);
      });
    }
  }
});

describe('other states of the pages, both languages', { skip: skipReason }, () => {
  for (const lang of ['es', 'en']) {
    for (const result of ['used', 'expired', 'invalid']) {
      test(`confirmed.html?result=${result} in ${lang}`, async (t) => {
        const page = await openChecked(t, `/confirmed.html?result=${result}`, lang);
        assert.equal(await page.locator('h1:visible').textContent(), S[lang][`confirmed.${result}_h`]);
        assert.equal(await page.locator('#resend').isVisible(), result !== 'used');
      });
    }

    test(`account.html logged in (API stubbed) in ${lang}`, async (t) => {
      const page = await openChecked(t, '/account.html', lang, [['/api/me', { status: 200, body: ME }]]);
      assert.equal(await page.locator('#hello').textContent(), S[lang]['account.hello'].replace('{name}', ME.name));
      assert.ok(await page.locator('#admin-link').isVisible(), 'admins get the link to the list');
    });

    test(`account.html logged out (API stubbed) in ${lang}`, async (t) => {
      const page = await openChecked(t, '/account.html', lang,
        [['/api/me', { status: 401, body: { error: 'unauthorized' } }]]);
      assert.ok(await page.locator('[data-panel="out"]').isVisible());
    });

    test(`admin.html with users (API stubbed) in ${lang}`, async (t) => {
      const page = await openChecked(t, '/admin.html', lang,
        [['/api/admin/users', { status: 200, body: USERS }]]);
      assert.equal(await page.locator('#users-body tr').count(), 2);
      assert.match(await page.locator('#users-caption').textContent(), /2/);
    });

    test(`admin.html forbidden (API stubbed) in ${lang}`, async (t) => {
      const page = await openChecked(t, '/admin.html', lang,
        [['/api/admin/users', { status: 403, body: { error: 'forbidden' } }]]);
      assert.equal(await page.locator('[data-panel="forbidden"] .alert').textContent(), S[lang]['admin.forbidden']);
    });

    test(`reset-complete.html without a token in ${lang}`, async (t) => {
      const page = await openChecked(t, '/reset-complete.html', lang);
      assert.equal(await page.locator('#bad-reason').textContent(), S[lang]['resetc.invalid']);
    });

    test(`a missing page is the 404 page in ${lang}`, async (t) => {
      const context = await newContext(browser, lang);
      t.after(() => context.close());
      const page = await context.newPage();
      const errors = watchConsole(page);
      const res = await goto(page, '/no-such-page');
      assert.equal(res.status(), 404);
      assert.equal(await page.title(), S[lang]['nf.title']);
      // Chromium logs the page's own 404; nothing else may show up.
      assert.deepEqual(errors.filter((e) => !e.includes('/no-such-page')), []);
    });
  }
});

describe('small screens', { skip: skipReason }, () => {
  test('no page scrolls sideways at 320 px; the list\'s table scrolls in its own region', async (t) => {
    const context = await newContext(browser, 'es', { viewport: { width: 320, height: 640 } });
    t.after(() => context.close());
    const page = await context.newPage();
    await stub(page, '/api/admin/users', { status: 200, body: USERS });
    await stub(page, '/api/me', { status: 200, body: ME });
    for (const p of PAGES) {
      await goto(page, p.path);
      await page.waitForLoadState('networkidle');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 320, `${p.path}: ${width} px wide`);
    }
    await goto(page, '/admin.html');
    await page.locator('#users-body tr').first().waitFor();
    const wrap = await page.evaluate(() => {
      const el = document.querySelector('.table-wrap');
      return { scrolls: el.scrollWidth > el.clientWidth, focusable: el.tabIndex === 0 };
    });
    assert.deepEqual(wrap, { scrolls: true, focusable: true });
  });
});

describe('language', { skip: skipReason }, () => {
  test('the browser\'s preference chooses; Spanish when neither is preferred', async () => {
    for (const [locale, want] of [['en-GB', 'en'], ['es-MX', 'es'], ['fr-FR', 'es'], ['en', 'en']]) {
      const context = await newContext(browser, locale);
      const page = await context.newPage();
      await goto(page, '/index.html');
      assert.equal(await page.getAttribute('html', 'lang'), want, locale);
      await context.close();
    }
  });

  test('the switch changes the page at once and sticks across pages and reloads', async (t) => {
    const context = await newContext(browser, 'es');
    t.after(() => context.close());
    const page = await context.newPage();
    const errors = watchConsole(page);
    await goto(page, '/index.html');
    assert.equal(await page.locator('h1').textContent(), S.es['signup.h1']);
    assert.equal(await page.getAttribute('nav.lang a[data-lang="es"]', 'aria-current'), 'true');

    // keyboard: focus the English link and press Enter
    await page.focus('nav.lang a[data-lang="en"]');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('h1').textContent(), S.en['signup.h1']);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(new URL(page.url()).searchParams.get('lang'), 'en', 'the address carries lang=en');
    assert.equal(await page.getAttribute('nav.lang a[data-lang="en"]', 'aria-current'), 'true');
    assert.equal(await page.getAttribute('input[name="locale"]', 'value'), 'en', 'the form sends locale=en');

    // another page, reached by a plain link: still English
    await page.click('a[href="/login.html"]');
    await page.waitForURL('**/login.html');
    assert.equal(await page.locator('h1').textContent(), S.en['login.h1']);
    await page.reload();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');

    // ?lang= wins over what was kept, and is kept in turn
    await goto(page, '/reset.html?lang=es');
    assert.equal(await page.locator('h1:visible').textContent(), S.es['reset.h1']);
    await goto(page, '/check-email.html');
    assert.equal(await page.locator('h1').textContent(), S.es['check.h1']);
    assert.deepEqual(errors, []);
  });

  test('a shown error follows the language', async (t) => {
    const context = await newContext(browser, 'es');
    t.after(() => context.close());
    const page = await context.newPage();
    await goto(page, '/login.html');
    await page.click('button[type="submit"]');
    assert.equal(await page.locator('#email-error').textContent(), S.es['err.required.email']);
    await page.click('nav.lang a[data-lang="en"]');
    assert.equal(await page.locator('#email-error').textContent(), S.en['err.required.email']);
  });
});

describe('without JavaScript', { skip: skipReason }, () => {
  test('the sign-up form is a plain form, with the note on errors', async (t) => {
    const context = await newContext(browser, 'en', { javaScriptEnabled: false });
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${BASE}/index.html`);
    const form = page.locator('form#signup');
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.getAttribute('action'), '/api/register');
    assert.ok(await form.isVisible());
    for (const name of ['name', 'email', 'password', 'marketing_consent']) {
      assert.ok(await page.locator(`form#signup [name="${name}"]`).isVisible(), name);
    }
    assert.equal(await page.getAttribute('input[name="locale"]', 'value'), 'es');
    assert.ok(await page.locator('noscript .note, .note').first().isVisible(), 'the no-script note shows');
    assert.equal(await page.locator('nav.lang').isVisible(), false, 'no switch that could not work');
    assert.equal(await page.locator('h1').textContent(), S.es['signup.h1'], 'Spanish, from the HTML');
  });

  test('the pages that need JavaScript say so', async (t) => {
    const context = await newContext(browser, 'es', { javaScriptEnabled: false });
    t.after(() => context.close());
    const page = await context.newPage();
    for (const path of ['/login.html', '/account.html', '/reset.html', '/reset-complete.html?token=x',
      '/admin.html', '/check-email.html', '/confirmed.html?result=ok']) {
      await page.goto(BASE + path);
      assert.ok(await page.locator('.note').first().isVisible(), `${path}: a note`);
      assert.ok(await page.locator('h1').first().isVisible(), `${path}: a heading`);
    }
  });
});
