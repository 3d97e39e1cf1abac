#!/usr/bin/env node
// diagrams.mjs — renders the Mermaid diagrams of the solution document to
// SVG and PNG (`make diagrams`; written to docs/diagrams/).
//
//   node scripts/diagrams.mjs [DOC] [OUTDIR]
//
// Every ```mermaid block of DOC (default docs/solucion.md) whose first line
// is "%% diagram: NAME" becomes OUTDIR/NAME.svg and OUTDIR/NAME.png. Mermaid
// comes from npm (package.json devDependencies) and runs in Debian's
// chromium through playwright-core, as scripts/screenshots.mjs does: no
// network, no server. The document shows the SVG next to its source, so a
// diagram is changed in the Markdown and rendered again here.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../t/browser/lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = process.argv[2] || join(ROOT, 'docs', 'solucion.md');
const OUT = process.argv[3] || join(ROOT, 'docs', 'diagrams');
const require = createRequire(import.meta.url);
const MERMAID = require.resolve('mermaid/dist/mermaid.min.js');

function blocks(text) {
  const found = [];
  for (const m of text.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)) {
    const name = m[1].match(/^%% diagram: ([a-z0-9-]+)\s*$/m);
    if (!name) {
      throw new Error('a mermaid block without "%% diagram: NAME" on its first line');
    }
    found.push({ name: name[1], code: m[1] });
  }
  return found;
}

async function main() {
  const diagrams = blocks(readFileSync(DOC, 'utf8'));
  if (!diagrams.length) throw new Error(`no mermaid blocks in ${DOC}`);
  mkdirSync(OUT, { recursive: true });

  // Chromium as the project runs it (the browser suite's settings)
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: [...CHROMIUM_ARGS, '--font-render-hinting=none']
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 }, deviceScaleFactor: 1 });
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head>'
      + '<body style="margin:0;background:#fff"><div id="out" style="display:inline-block;padding:16px"></div></body></html>');
    await page.addScriptTag({ path: MERMAID });
    await page.evaluate(() => {
      // htmlLabels off: plain SVG text, so the files render the same
      // outside a browser (image viewers, converters)
      window.mermaid.initialize({
        startOnLoad: false, theme: 'neutral', securityLevel: 'strict',
        fontFamily: 'DejaVu Sans, Arial, sans-serif',
        flowchart: { htmlLabels: false, useMaxWidth: false },
        sequence: { useMaxWidth: false }
      });
    });
    for (const { name, code } of diagrams) {
      const svg = await page.evaluate(async ([id, src]) => {
        const { svg } = await window.mermaid.render(id, src);
        document.getElementById('out').innerHTML = svg;
        return svg;
      }, [`d-${name}`, code]);
      writeFileSync(join(OUT, `${name}.svg`), svg + '\n');
      await page.locator('#out').screenshot({ path: join(OUT, `${name}.png`) });
      console.log(`diagrams: ${join(OUT, name)}.svg, .png`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(`diagrams: ${e.message}`); process.exit(1); });
