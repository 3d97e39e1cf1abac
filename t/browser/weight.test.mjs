// The sign-up page's weight over the wire, cold and warm
// (scripts/page-weight.mjs), printed as diagnostics and held to a budget:
// a first visit under 30 KB, a second one under 3 KB with every stamped
// asset taken from the cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measure, report } from '../../scripts/page-weight.mjs';
import { BASE, CHROMIUM, skipReason } from './lib.mjs';

test('page weight of the sign-up page', { skip: skipReason }, async (t) => {
  const m = await measure(`${BASE}/`, { executablePath: CHROMIUM });
  for (const line of report(m).split('\n')) t.diagnostic(line);
  assert.ok(m.cold.bytes < 30000, `cold ${m.cold.bytes} bytes`);
  assert.ok(m.warm.bytes < 3000, `warm ${m.warm.bytes} bytes`);
  const assets = m.warm.detail.filter((d) => d.path.startsWith('/assets/'));
  assert.equal(assets.length, 3);
  assert.ok(assets.every((d) => d.cached), 'stylesheet and scripts from the cache');
  assert.equal(m.warm.detail.find((d) => d.path === '/').status, 304, 'the page revalidated');
});
