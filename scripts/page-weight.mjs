#!/usr/bin/env node
// page-weight.mjs — what the sign-up page costs over the wire: the bytes
// received (headers and compressed bodies, as DevTools' "transferred") and
// the requests, on a first visit with an empty cache (cold) and on a second
// visit (warm: the page revalidated, the stamped assets from the cache).
//
//   node scripts/page-weight.mjs [URL]
//
// URL defaults to the page of `make run` (http://127.0.0.1:<.run/nginx/port>/).
// Debian's chromium through playwright-core; the numbers come from the
// DevTools protocol (Network.loadingFinished's encodedDataLength).
// t/browser/weight.test.mjs uses measure() below.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

async function visit(context, page, url) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  const seen = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    seen.set(e.requestId, { url: e.request.url, bytes: 0, cached: false, status: 0 });
  });
  cdp.on('Network.requestServedFromCache', (e) => {
    if (seen.has(e.requestId)) seen.get(e.requestId).cached = true;
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = seen.get(e.requestId);
    if (!r) return;
    if (!r.status) r.status = e.response.status;
    if (e.response.fromDiskCache || e.response.fromPrefetchCache) r.cached = true;
  });
  // The status on the wire (a revalidated page is a 304 there, a 200 above).
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    if (seen.has(e.requestId)) seen.get(e.requestId).status = e.statusCode;
  });
  cdp.on('Network.loadingFinished', (e) => {
    if (seen.has(e.requestId)) seen.get(e.requestId).bytes = e.encodedDataLength;
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  await cdp.detach();
  const all = [...seen.values()];
  const network = all.filter((r) => !r.cached);
  return {
    bytes: network.reduce((n, r) => n + r.bytes, 0),
    requests: network.length,
    cached: all.length - network.length,
    detail: all.map((r) => ({
      path: new URL(r.url).pathname + new URL(r.url).search,
      status: r.status,
      bytes: r.cached ? 0 : r.bytes,
      cached: r.cached
    }))
  };
}

// {cold, warm}: each {bytes, requests, cached, detail[]}
export async function measure(url, opts = {}) {
  const browser = await chromium.launch({
    executablePath: opts.executablePath || process.env.XYZ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic']
  });
  try {
    const context = await browser.newContext({ locale: 'es-ES' });
    const page = await context.newPage();
    const cold = await visit(context, page, url);
    const warm = await visit(context, page, url);
    return { cold, warm };
  } finally {
    await browser.close();
  }
}

export function report({ cold, warm }) {
  const lines = [];
  for (const [name, v] of [['cold', cold], ['warm', warm]]) {
    lines.push(`${name}: ${v.bytes} bytes in ${v.requests} request(s), ${v.cached} from the cache`);
    for (const d of v.detail) {
      lines.push(`  ${String(d.status).padStart(3)} ${d.cached ? '(cache)' : String(d.bytes).padStart(7)}  ${d.path}`);
    }
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  let url = process.argv[2];
  if (!url) {
    const portFile = join(ROOT, '.run', 'nginx', 'port');
    if (!existsSync(portFile)) {
      console.error('page-weight: give a URL, or start `make run` first');
      process.exit(2);
    }
    url = `http://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}/`;
  }
  measure(url).then((m) => console.log(`page weight of ${url}\n${report(m)}`), (e) => {
    console.error(`page-weight: ${e.message}`);
    process.exit(1);
  });
}
