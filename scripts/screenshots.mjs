#!/usr/bin/env node
// screenshots.mjs — PNG pictures of every page of the front end, for the
// documentation (`make screenshots`; written to docs/screenshots/).
//
//   node scripts/screenshots.mjs [OUTDIR]
//
// No server is needed: Debian's chromium (through playwright-core) loads the
// pages from html/ through request interception, with the headers of
// conf/security-headers.conf, and the API answers that each picture needs
// (a logged-in user, a list of users, a refused login) come from the
// fixtures below, as the API contract in README.md describes them. Desktop
// pictures are 1280×800, the phone one 390×844 (CSS pixels, scale 1).

import { mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HTML = join(ROOT, 'html');
const OUT = process.argv[2] || join(ROOT, 'docs', 'screenshots');
const ORIGIN = 'http://xyz.localhost';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css',
  '.js': 'application/javascript; charset=utf-8',
  '.svg': 'image/svg+xml'
};

// The headers nginx adds (the add_header lines of the include file).
const SECURITY = {};
for (const m of readFileSync(join(ROOT, 'conf', 'security-headers.conf'), 'utf8')
  .matchAll(/^\s*add_header\s+(\S+)\s+"([^"]*)"/gm)) {
  SECURITY[m[1]] = m[2];
}

const ME = {
  id: 42, email: 'ana.perez@example.com', name: 'Ana Pérez', role: 'admin', locale: 'es', status: 'confirmed'
};
const NAMES = [
  ['ana.perez@example.com', 'Ana Pérez', 'confirmed', true, true, false],
  ['jon.garcia@example.com', 'Jon García', 'confirmed', true, true, false],
  ['lucia.martin@example.org', 'Lucía Martín', 'pending', true, true, false],
  ['mateo.ruiz@example.net', 'Mateo Ruiz', 'pending', true, false, false],
  ['sofia.lopez@example.com', 'Sofía López', 'confirmed', true, true, false],
  ['diego.sanz@example.com', 'Diego Sanz', 'pending', false, false, true],
  ['carmen.diaz@example.org', 'Carmen Díaz', 'confirmed', true, true, false],
  ['pablo.moreno@example.com', 'Pablo Moreno', 'pending', true, false, false]
];
const USERS = {
  users: NAMES.map(([email, name, status, sent, crm, dead], i) => ({
    id: 120 - i, email, name, status,
    created_at: new Date(Date.UTC(2026, 10, 27, 9, 58 - i * 7)).toISOString(),
    email_sent: sent, crm_synced: crm, dead_lettered: dead
  })),
  page: 1, per_page: 50, total: NAMES.length
};

const json = (status, body, headers = {}) => ({ status, body, headers });

// name, path, viewport, language, API answers {path: reply}, then an action
const SHOTS = [
  ['signup-es', '/index.html', 'desktop', 'es'],
  ['signup-en', '/index.html', 'desktop', 'en'],
  ['signup-es-phone', '/index.html', 'phone', 'es'],
  ['signup-errors-es', '/index.html', 'desktop', 'es', {}, async (page) => {
    await page.fill('#name', 'Ana Pérez');
    await page.fill('#email', 'ana.perez@example');
    await page.fill('#password', 'corta');
    await page.click('button[type="submit"]');
  }],
  ['signup-queue-es', '/index.html', 'desktop', 'es',
    { '/api/register': json(503, { error: 'unavailable' }, { 'Retry-After': '20' }) }, async (page) => {
      await page.fill('#name', 'Ana Pérez');
      await page.fill('#email', 'ana.perez@example.com');
      await page.fill('#password', 'una frase larga y secreta');
      await page.click('button[type="submit"]');
      await page.waitForSelector('#signup .queue-next:visible');
      await page.waitForTimeout(1200);
      await page.evaluate(() => document.querySelector('#signup .queue').scrollIntoView({ block: 'end' }));
    }],
  ['check-email-es', '/check-email.html', 'desktop', 'es', {}, async (page) => {
    await page.evaluate(() => sessionStorage.setItem('xyz.email', 'ana.perez@example.com'));
    await page.reload();
  }],
  ['confirmed-es', '/confirmed.html?result=ok', 'desktop', 'es'],
  ['confirmed-expired-es', '/confirmed.html?result=expired', 'desktop', 'es'],
  ['login-es', '/login.html', 'desktop', 'es'],
  ['login-unconfirmed-es', '/login.html', 'desktop', 'es',
    { '/api/login': json(403, { error: 'unconfirmed' }) }, async (page) => {
      await page.fill('#email', 'ana.perez@example.com');
      await page.fill('#password', 'una frase larga y secreta');
      await page.click('button[type="submit"]');
      await page.waitForSelector('#login-resend:visible');
    }],
  ['account-es', '/account.html', 'desktop', 'es', { '/api/me': json(200, ME) }],
  ['reset-es', '/reset.html', 'desktop', 'es'],
  ['reset-complete-es', '/reset-complete.html?token=example', 'desktop', 'es'],
  ['admin-es', '/admin.html', 'desktop', 'es', { '/api/admin/users': json(200, USERS) }]
];

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }
};

function fileFor(pathname) {
  let rel = decodeURIComponent(pathname);
  if (rel.endsWith('/')) rel += 'index.html';
  const file = normalize(join(HTML, rel));
  if (!file.startsWith(HTML)) return null;
  if (existsSync(file) && statSync(file).isFile()) return file;
  if (existsSync(`${file}.html`)) return `${file}.html`;
  return null;
}

async function serve(route, api) {
  const url = new URL(route.request().url());
  if (url.origin !== ORIGIN) return route.abort();
  if (api[url.pathname]) {
    const r = api[url.pathname];
    return route.fulfill({
      status: r.status,
      headers: { 'Content-Type': 'application/json', ...SECURITY, ...r.headers },
      body: JSON.stringify(r.body)
    });
  }
  if (url.pathname.startsWith('/api/')) {
    return route.fulfill({ status: 401, headers: { 'Content-Type': 'application/json' },
      body: '{"error":"unauthorized"}' });
  }
  const file = fileFor(url.pathname);
  if (!file) {
    return route.fulfill({ status: 404, headers: { 'Content-Type': TYPES['.html'], ...SECURITY },
      body: readFileSync(join(HTML, '404.html')) });
  }
  return route.fulfill({
    status: 200,
    headers: { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', ...SECURITY },
    body: readFileSync(file)
  });
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.XYZ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--font-render-hinting=none']
  });
  try {
    // XYZ_SHOTS=name,name: only those pictures
    const only = (process.env.XYZ_SHOTS || '').split(',').filter(Boolean);
    for (const [name, path, vp, lang, api = {}, act] of SHOTS) {
      if (only.length && !only.includes(name)) continue;
      const context = await browser.newContext({
        ...VIEWPORTS[vp], locale: lang === 'en' ? 'en-US' : 'es-ES', deviceScaleFactor: 1,
        timezoneId: 'Europe/Madrid'
      });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.route('**/*', (route) => serve(route, api));
      await page.goto(ORIGIN + path, { waitUntil: 'networkidle' });
      if (act) await act(page);
      await page.waitForLoadState('networkidle');
      const file = join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      await context.close();
      if (errors.length) throw new Error(`${name}: ${errors.join('; ')}`);
      console.log(`screenshots: ${file.slice(ROOT.length + 1)} (${statSync(file).size} bytes)`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`screenshots: ${e.message}`);
  process.exit(1);
});
