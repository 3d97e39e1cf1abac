// The files of html/ and how nginx serves them: texts complete in both
// languages, no inline script or style (the CSP forbids them), asset URLs
// stamped with their content hash, security headers on every answer, long
// cache lifetimes for the stamped assets, precompressed copies, the 404
// page, and /login for login.html (the emails link there).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, HTML, PAGES, htmlFiles, skipReason, strings } from './lib.mjs';

const S = strings();
const read = (f) => readFileSync(join(HTML, f), 'utf8');

describe('files', () => {
  test('both languages have the same keys, none empty', () => {
    assert.deepEqual(Object.keys(S.en).sort(), Object.keys(S.es).sort());
    for (const lang of ['es', 'en']) {
      for (const [k, v] of Object.entries(S[lang])) assert.ok(v.trim(), `${lang} ${k}`);
    }
  });

  test('every key the pages and app.js use exists', () => {
    const used = new Set();
    for (const f of htmlFiles()) {
      const s = read(f);
      for (const m of s.matchAll(/data-i18n="([^"]+)"/g)) used.add(m[1]);
      for (const m of s.matchAll(/data-i18n-attr="([^"]+)"/g)) {
        for (const pair of m[1].split(';')) used.add(pair.split(':')[1].trim());
      }
    }
    const js = read('assets/app.js');
    for (const m of js.matchAll(/(?:key: |setText\([^,()]+, |\bt\()'([a-z0-9_.]+)'/g)) used.add(m[1]);
    for (const p of PAGES) used.add(p.title);
    const missing = [...used].filter((k) => !(k in S.es));
    assert.deepEqual(missing, []);
    assert.ok(used.size > 100, `${used.size} keys found`);
  });

  test('the Spanish in the HTML is the Spanish of i18n.js', () => {
    for (const f of htmlFiles()) {
      for (const m of read(f).matchAll(/data-i18n="([^"]+)"[^>]*>([^<]*)</g)) {
        if (m[2].trim()) assert.equal(m[2].trim(), S.es[m[1]], `${f}: ${m[1]}`);
      }
    }
  });

  test('no inline script, style or event handler', () => {
    for (const f of htmlFiles()) {
      const s = read(f);
      assert.doesNotMatch(s, /<style/i, `${f}: <style>`);
      assert.doesNotMatch(s, /\sstyle=/i, `${f}: style=`);
      assert.doesNotMatch(s, /\son[a-z]+=/i, `${f}: on...=`);
      for (const m of s.matchAll(/<script([^>]*)>/gi)) assert.match(m[1], /\ssrc=/, `${f}: inline <script>`);
      assert.doesNotMatch(s, /javascript:/i, `${f}: javascript: URL`);
    }
  });

  test('asset URLs carry the hash of the file (scripts/gzip-assets.sh)', () => {
    for (const f of htmlFiles()) {
      for (const m of read(f).matchAll(/"\/assets\/([^"?]+)\?v=([^"]*)"/g)) {
        const want = createHash('sha256').update(readFileSync(join(HTML, 'assets', m[1]))).digest('hex').slice(0, 12);
        assert.equal(m[2], want, `${f}: ${m[1]} (run scripts/gzip-assets.sh)`);
      }
    }
  });

  test('each .gz is its file, compressed', () => {
    for (const f of [...htmlFiles(), 'assets/app.css', 'assets/app.js', 'assets/i18n.js']) {
      const gz = readFileSync(join(HTML, `${f}.gz`));
      assert.ok(gunzipSync(gz).equals(readFileSync(join(HTML, f))), f);
    }
  });
});

const CSP_NEEDS = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"];

function assertSecurity(res, what) {
  const csp = res.headers.get('content-security-policy') || '';
  for (const part of CSP_NEEDS) assert.ok(csp.includes(part), `${what}: CSP has ${part}`);
  assert.doesNotMatch(csp, /unsafe-(inline|eval)/, `${what}: no unsafe-inline/eval`);
  assert.equal(res.headers.get('referrer-policy'), 'same-origin', `${what}: Referrer-Policy`);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  assert.equal(res.headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
}

describe('served by nginx', { skip: skipReason }, () => {
  test('pages: security headers, revalidated, compressed', async () => {
    for (const f of htmlFiles()) {
      const res = await fetch(`${BASE}/${f}`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(res.status, 200, f);
      assertSecurity(res, f);
      assert.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/, `${f}: type`);
      assert.equal(res.headers.get('cache-control'), 'no-cache', `${f}: Cache-Control`);
      assert.equal(res.headers.get('content-encoding'), 'gzip', `${f}: the .gz copy`);
      assert.match(res.headers.get('vary') || '', /Accept-Encoding/, `${f}: Vary`);
      assert.equal(await res.text(), read(f), `${f}: content`);
    }
  });

  test('stamped assets: a year, immutable, compressed', async () => {
    const index = read('index.html');
    const urls = [...index.matchAll(/"(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.equal(urls.length, 3);
    for (const url of urls) {
      const res = await fetch(BASE + url, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(res.status, 200, url);
      assertSecurity(res, url);
      const cc = res.headers.get('cache-control');
      assert.match(cc, /max-age=31536000/, `${url}: ${cc}`);
      assert.match(cc, /immutable/, `${url}: ${cc}`);
      assert.equal(res.headers.get('content-encoding'), 'gzip', `${url}: the .gz copy`);
      assert.equal(await res.text(), read(url.replace(/^\/|\?.*$/g, '')), `${url}: content`);
    }
  });

  test('a client without gzip gets the plain file', async () => {
    const res = await fetch(`${BASE}/assets/app.css`, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(res.headers.get('content-encoding'), null);
    assert.equal(await res.text(), read('assets/app.css'));
  });

  test('/login and /reset serve the pages (the emails link there)', async () => {
    for (const [path, file] of [['/login', 'login.html'], ['/reset', 'reset.html'], ['/', 'index.html']]) {
      const res = await fetch(BASE + path);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), read(file), path);
    }
  });

  test('a missing file: the 404 page, with the headers', async () => {
    const res = await fetch(`${BASE}/no/such/page`);
    assert.equal(res.status, 404);
    assertSecurity(res, '404');
    assert.equal(await res.text(), read('404.html'));
  });

  test('the API\'s answers carry the headers too', async () => {
    const res = await fetch(`${BASE}/api/register`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Origin: BASE }, body: '{}'
    });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    assertSecurity(res, '/api/register');
  });
});
