// The officer's page, measured in Debian's Chromium against a running node
// (scripts/bench-pages starts it): the bytes of the first load of /pos
// (document, stylesheet, script; headers included) and, for every NIK of a
// list, the time from Enter to the verdict painted, as the page itself
// measures it (the performance entry "verdict": from the submit event to the
// frame after the one that shows the verdict). Prints JSON.
//
//   node tests/browser/bench.mjs --origin http://127.0.0.1:PORT --login L --password P --niks FILE

import { chromium } from 'playwright-core';
import fs from 'node:fs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) { return process.argv[i + 1]; }
  if (fallback === undefined) { throw new Error(`--${name} is required`); }
  return fallback;
}

const origin = arg('origin');
const login = arg('login');
const password = arg('password');
const niks = fs.readFileSync(arg('niks'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
const warmup = Number(arg('warmup', '20'));
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';

function quantile(sorted, q) {
  if (sorted.length === 0) { return NaN; }
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
try {
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'id-ID' });
  // Signed in over the API, so that the first page this browser loads is /pos.
  const signed = await ctx.request.post(`${origin}/v1/session`, { data: { login, password } });
  if (!signed.ok()) { throw new Error(`sign-in failed: ${signed.status()} ${await signed.text()}`); }
  const page = await ctx.newPage();
  const loads = [];
  page.on('requestfinished', async (r) => {
    const s = await r.sizes();
    loads.push({ url: r.url(), bytes: s.responseBodySize + s.responseHeadersSize });
  });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') { errors.push(m.text()); } });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/pos`, { waitUntil: 'load' });
  await page.waitForTimeout(200);
  const firstLoad = loads.slice();
  const firstLoadBytes = firstLoad.reduce((a, r) => a + r.bytes, 0);

  const kinds = {};
  const times = [];
  let seen = 0;
  for (let i = 0; i < warmup + niks.length; i++) {
    const nik = niks[i % niks.length];
    await page.fill('#nik', nik);
    await page.press('#nik', 'Enter');
    await page.waitForFunction((n) => performance.getEntriesByName('verdict').length > n, seen, { timeout: 10_000 });
    seen += 1;
    if (i >= warmup) {
      const entries = await page.evaluate(() => performance.getEntriesByName('verdict').map((e) => e.duration));
      times.push(entries[entries.length - 1]);
      const kind = await page.getAttribute('#verdict', 'data-kind');
      kinds[kind] = (kinds[kind] || 0) + 1;
    }
    if (seen % 200 === 0) { await page.evaluate(() => performance.clearMeasures('verdict')); seen = 0; }
  }
  const sorted = times.slice().sort((a, b) => a - b);
  const report = {
    origin,
    first_load: { bytes: firstLoadBytes, requests: firstLoad.map((r) => ({ url: r.url.replace(origin, ''), bytes: r.bytes })) },
    verdicts: {
      count: times.length,
      kinds,
      p50_ms: quantile(sorted, 0.5),
      p95_ms: quantile(sorted, 0.95),
      p99_ms: quantile(sorted, 0.99),
      max_ms: sorted[sorted.length - 1],
      mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
    },
    console_errors: errors,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await browser.close();
}
