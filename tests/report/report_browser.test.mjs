// The HTML report (`causeway report`) in a real browser: Debian's headless Chromium, driven by
// playwright-core, opens reports made from fixture traces and from the sample investigations
// via file://. Any console error, uncaught page error, dialog (an injected alert) or network
// request fails the test; the chain list, the timeline and the histograms must be present and
// non-empty, and clicking a chain must outline its evidence on the timeline. Screenshots go to
// $CAUSEWAY_REPORT_OUT (the build directory's report-test/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const BIN = process.env.CAUSEWAY_BIN ?? 'build/causeway';
const FIXTURE_BIN = process.env.CAUSEWAY_REPORT_FIXTURE_BIN ?? 'build/make_report_fixture';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const OUT = resolve(process.env.CAUSEWAY_REPORT_OUT ?? 'build/report-test');
const SOURCE_DIR = process.env.CAUSEWAY_SOURCE_DIR ?? '.';

let browser;

before(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Chromium refuses to run as root with its sandbox on.
    chromiumSandbox: process.getuid() !== 0,
    args: ['--disable-gpu', '--no-first-run', '--disable-extensions'],
  });
});

after(async () => {
  await browser?.close();
});

function makeReport(name, db) {
  const html = join(OUT, `${name}.html`);
  execFileSync(BIN, ['report', '--db', db, '-o', html, '--force'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return html;
}

// Opens a report and records everything that must not happen.
async function open(html) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => {
    problems.push(`dialog (injected script ran): ${d.message()}`);
    await d.dismiss();
  });
  const url = pathToFileURL(html).href;
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

// What every report must show, then the chain -> timeline interaction.
async function checkReport(page, name) {
  const chains = await page.locator('#chain-list > li.chain').count();
  assert.ok(chains > 0, 'the chain list is empty');
  assert.ok((await page.locator('#chain-1 h3.summary').innerText()).length > 10, 'chain #1 has no summary');
  assert.ok((await page.locator('#chain-1 .fix').count()) === 1, 'chain #1 shows no fix');

  const lanes = await page.locator('#tl svg .lane-label').count();
  const bars = await page.locator('#tl svg rect.ev').count();
  assert.ok(lanes > 0, 'the timeline has no lanes');
  assert.ok(bars > 0, 'the timeline has no events');

  const figures = await page.locator('figure.hist').count();
  assert.ok(figures > 0, 'no histograms');
  for (let i = 0; i < figures; i++) {
    const fig = page.locator('figure.hist').nth(i);
    assert.ok((await fig.locator('svg rect.bar').count()) > 0, `histogram ${i} has no bars`);
    assert.equal(await fig.locator('svg line.mark').count(), 3, `histogram ${i} lacks p50/p95/p99`);
  }

  // Clicking a chain shows its window and outlines its evidence.
  await page.locator('#chain-1 button.show-timeline').click();
  await page.waitForTimeout(50);
  assert.ok(await page.locator('#chain-1').evaluate((e) => e.classList.contains('selected')));
  const outlined = await page.locator('#tl svg rect.ev.hl').count();
  assert.ok(outlined > 0, 'clicking chain #1 outlined no evidence on the timeline');
  assert.ok(await page.locator('#tl').evaluate((e) => e.classList.contains('highlighting')));

  // Hovering the widest outlined event explains it (the mouse goes where a person's would).
  await page.locator('#tl-fit').click();
  await page.locator('#tl').scrollIntoViewIfNeeded();
  await page.waitForTimeout(50);
  const spot = await page.evaluate(() => {
    let best = null;
    document.querySelectorAll('#tl svg rect.ev.hl').forEach((r) => {
      const b = r.getBoundingClientRect();
      if (!best || b.width > best.width) best = b;
    });
    return best && { x: best.x + best.width / 2, y: best.y + best.height / 2 };
  });
  assert.ok(spot, 'no outlined event to hover');
  await page.mouse.move(spot.x, spot.y);
  await page.waitForTimeout(50);
  assert.equal(await page.locator('#tl-tip').isVisible(), true, 'no tooltip on hover');
  assert.match(await page.locator('#tl-tip').innerText(), /evidence of the chain/);
  await page.mouse.move(1, 1);

  // Zooming changes the visible range.
  const ticks = async () => (await page.locator('#tl svg .axis text').allTextContents()).join('|');
  await page.locator('#tl-reset').click();
  await page.waitForTimeout(50);
  const before = await ticks();
  assert.ok(before.replaceAll('|', '').length > 0, 'the time axis has no labels');
  await page.locator('#tl-zoom-in').click();
  await page.waitForTimeout(50);
  assert.notEqual(await ticks(), before, 'zooming in did not change the axis');

  // Evidence links zoom onto their row.
  const link = page.locator('#chain-1 button.ev-link').first();
  if ((await link.count()) > 0) {
    await page.locator('#chain-1 details.evidence summary').click();
    await link.click();
    await page.waitForTimeout(50);
    assert.ok((await page.locator('#tl svg rect.ev.hl').count()) > 0);
  }

  await page.locator('#chain-1 button.show-timeline').click();
  await page.locator('#tl-fit').click();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(100);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  await page.locator('#timeline').screenshot({ path: join(OUT, `${name}-timeline.png`) });
}

test('report of the data-loader fixture renders cleanly and is interactive', async () => {
  const db = join(OUT, 'data_loader.db');
  execFileSync(FIXTURE_BIN, ['data_loader', db]);
  const { page, problems } = await open(makeReport('data_loader', db));
  await checkReport(page, 'data_loader');
  assert.deepEqual(problems, []);
  await page.close();
});

test('runnable intervals name who held the CPU; the untraced culprit lane shows when it held it', async () => {
  const db = join(OUT, 'spinner.db');
  execFileSync(FIXTURE_BIN, ['spinner', db]);
  const { page, problems } = await open(makeReport('spinner', db));
  await checkReport(page, 'spinner');
  await page.locator('#tl-reset').click();
  await page.locator('#tl').scrollIntoViewIfNeeded();
  await page.waitForTimeout(50);
  // The spinner's lane carries held-CPU bars (kind 8, from cpu_slice).
  assert.ok((await page.locator('#tl svg rect.ev.k8').count()) > 0, 'no held-CPU bars');
  // Hovering the widest runnable bar of the slowed thread names the spinner with its time.
  const spot = await page.evaluate(() => {
    let best = null;
    document.querySelectorAll('#tl svg rect.ev.k2').forEach((r) => {
      const b = r.getBoundingClientRect();
      if (!best || b.width > best.width) best = b;
    });
    return best && { x: best.x + best.width / 2, y: best.y + best.height / 2 };
  });
  assert.ok(spot, 'no runnable bar to hover');
  await page.mouse.move(spot.x, spot.y);
  await page.waitForTimeout(50);
  assert.match(await page.locator('#tl-tip').innerText(), /CPU held by spinner \(tid 1200\) 2\.80 ms, helper \(pid 1100, tid 1101\) 200 µs/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('hostile names from the trace stay text: no injected markup or script', async () => {
  const db = join(OUT, 'hostile.db');
  execFileSync(FIXTURE_BIN, ['hostile', db]);
  const { page, problems } = await open(makeReport('hostile', db));
  await checkReport(page, 'hostile');
  assert.equal(await page.locator('img').count(), 0, 'an <img> from a thread name became markup');
  assert.equal(await page.locator('main svg[onload], body > svg').count(), 0);
  assert.equal(await page.locator('script').count(), 2);
  const labels = await page.locator('#tl svg .lane-label').allTextContents();
  assert.ok(labels.some((l) => l.startsWith("<img src=x onerror=alert('comm')>".slice(0, 24))), labels.join(', '));
  assert.match(await page.title(), /<\/script><script>alert\('process'\)<\/script>/);
  assert.deepEqual(problems, []);
  await page.close();
});

// Every sample investigation (investigations/*.db) makes a clean report too.
const investigations = join(SOURCE_DIR, 'investigations');
const samples = existsSync(investigations)
  ? readdirSync(investigations).filter((f) => f.endsWith('.db')).sort()
  : [];
for (const file of samples) {
  const name = file.replace(/\.db$/, '');
  test(`report of the ${name} investigation renders cleanly`, async () => {
    const { page, problems } = await open(makeReport(`investigation-${name}`, join(investigations, file)));
    await checkReport(page, `investigation-${name}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
}
