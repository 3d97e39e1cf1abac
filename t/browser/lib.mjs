// Shared helpers of the browser suites (t/browser/*.test.mjs): Debian's
// chromium driven by playwright-core, the pages of html/, their texts,
// console watching, axe-core checks and API stubs.
//
// The suites need XYZ_BASE_URL (an nginx serving html/ with the module,
// e.g. http://127.0.0.1:PORT, as t/070-browser.t starts it); without it they
// skip. XYZ_CHROMIUM overrides /usr/bin/chromium.

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HTML = join(ROOT, 'html');
export const BASE = (process.env.XYZ_BASE_URL || '').replace(/\/+$/, '');
export const MAILDEV_API = (process.env.TEST_NGINX_MAILDEV_API || '').replace(/\/+$/, '');
export const CHROMIUM = process.env.XYZ_CHROMIUM || '/usr/bin/chromium';

// Chromium as the project runs it: headless, no sandbox (root, containers),
// nothing that reaches out to the network on its own. Playwright gives
// every launch a fresh --user-data-dir of its own.
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic'
];

export const skipReason = BASE ? false : 'XYZ_BASE_URL is not set (run t/070-browser.t)';

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// The pages: file, the key of their <title>, and the page name in <body>.
export const PAGES = [
  { path: '/index.html', title: 'signup.title' },
  { path: '/check-email.html', title: 'check.title' },
  { path: '/confirm.html?token=abc', title: 'confirm.title' },
  { path: '/confirmed.html?result=ok', title: 'confirmed.title' },
  { path: '/login.html', title: 'login.title' },
  { path: '/account.html', title: 'account.title' },
  { path: '/reset.html', title: 'reset.title' },
  { path: '/reset-complete.html?token=abc', title: 'resetc.title' },
  { path: '/admin.html', title: 'admin.title' },
  { path: '/404.html', title: 'nf.title' }
];

export function htmlFiles() {
  return readdirSync(HTML).filter((f) => f.endsWith('.html')).sort();
}

// The texts of html/assets/i18n.js, evaluated as the browser does.
export function strings() {
  const sandbox = { window: {} };
  vm.runInNewContext(readFileSync(join(HTML, 'assets', 'i18n.js'), 'utf8'), sandbox);
  return sandbox.window.XYZ_I18N;
}

export const LOCALES = { es: 'es-ES', en: 'en-US' };

// A context whose browser prefers `lang` (navigator.languages and
// Accept-Language).
export function newContext(browser, lang, opts = {}) {
  return browser.newContext({ locale: LOCALES[lang] || lang, ...opts });
}

// Collects what the page reports as errors: uncaught exceptions and console
// errors (CSP violations land there too). A failed load of an /api/ URL
// (or /confirm, the landing page's post) is the API answering 4xx/5xx on
// purpose (401 when logged out, 503 under overload), which Chromium also
// logs; those are left out.
export function watchConsole(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = (msg.location() && msg.location().url) || '';
    let path = '';
    try { path = new URL(url).pathname; } catch (e) { path = ''; }
    if (/^Failed to load resource/.test(msg.text()) && (path.startsWith('/api/') || path === '/confirm')) return;
    errors.push(`console: ${msg.text()} (${url})`);
  });
  return errors;
}

// axe-core's violations of impact serious or critical. axe.min.js is
// evaluated through the DevTools protocol, which the page's CSP does not
// govern (a <script> tag would be refused, as it should).
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export async function axeViolations(page) {
  const present = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!present) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    resultTypes: ['violations']
  }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// Answers the page's calls to one API route as the contract says the module
// will (the module's own suites test the module; these test the pages).
// `reply` is {status, body, headers} or a function of the request.
export async function stub(page, path, reply) {
  await page.route((url) => url.pathname === path, async (route) => {
    const r = typeof reply === 'function' ? await reply(route.request()) : reply;
    await route.fulfill({
      status: r.status,
      headers: { 'Content-Type': 'application/json', ...(r.headers || {}) },
      body: r.body === undefined ? '' : JSON.stringify(r.body)
    });
  });
}

// The state of one field: its error text, whether it is marked invalid, and
// whether aria-describedby points at the error.
export async function fieldState(page, id) {
  return page.evaluate((fid) => {
    const input = document.getElementById(fid);
    const box = document.getElementById(`${fid}-error`);
    const described = (input.getAttribute('aria-describedby') || '').split(/\s+/);
    return {
      invalid: input.getAttribute('aria-invalid') === 'true',
      linked: described.includes(`${fid}-error`),
      text: box.textContent,
      visible: box.offsetParent !== null && box.getBoundingClientRect().height > 0,
      focused: document.activeElement === input
    };
  }, id);
}

export async function goto(page, path) {
  const res = await page.goto(BASE + path, { waitUntil: 'load' });
  // app.js is deferred: by "load" it has run; wait for the language switch
  // it shows, on pages that have one.
  await page.waitForFunction(() => !document.querySelector('nav.lang')
    || !document.querySelector('nav.lang').hidden);
  return res;
}

// The text of `locator` once it equals `want`, or what it is after `timeout`
// ms (for answers that arrive asynchronously).
export async function waitText(locator, want, timeout = 5000) {
  const end = Date.now() + timeout;
  let got;
  for (;;) {
    got = await locator.textContent();
    if (got === want || Date.now() > end) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
}
