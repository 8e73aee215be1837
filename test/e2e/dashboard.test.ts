// The dashboard (/ui) in a real headless browser: Debian's chromium driven by playwright-core,
// against `sluice controller` and two `sluice switch` daemons joined by a trunk, a VM on each,
// network blue, channel gold on one attachment and UDP through it (iperf3). The page loads with no
// console error, shows the topology, plots the channel, and follows a `sluice channel set` made
// from the CLI within 2 s. A screenshot is written to test/artifacts/dashboard.png (path printed).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from '../helpers/cli.js';
import { findOnPath } from '../helpers/host-tools.js';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab, waitFor } from '../helpers/netns.js';
import { SwitchProc, addHost, freePort, iperf } from './switch-harness.js';
import { ControllerProc, expectEventually } from './controller-harness.js';
import type { Host } from './switch-harness.js';

const SCREENSHOT = join(ROOT, 'test', 'artifacts', 'dashboard.png');

describePrivileged('the dashboard (/ui) in headless chromium', () => {
  let lab: NetnsLab;
  let ctl: ControllerProc;
  let s1: SwitchProc | null = null, s2: SwitchProc | null = null;
  let browser: Browser | null = null;
  let page: Page;
  const consoleErrors: string[] = [];
  const hosts: Record<string, Host> = {};
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-ui-e2e-'));

  beforeAll(async () => {
    lab = new NetnsLab();
    ctl = new ControllerProc(stateDir, await freePort(), await freePort(), ['--rate-interval', '0.5']);
    await ctl.start();
    hosts.a1 = addHost(lab, 'a1', '10.78.0.1');
    hosts.b1 = addHost(lab, 'b1', '10.78.0.2');
    const t12 = lab.name('u12'), t21 = lab.name('u21');
    lab.addVeth(t12, t21);
    for (const d of [t12, t21]) lab.offloadsOff(null, d);
    const port = (n: number, name: string, dev: string): string => `      ${name}: { ofport: ${n}, type: system, device: ${dev} }\n`;
    const bridge = (name: string, ports: string): string =>
      `bridges:\n  ${name}:\n    description: ${name}/br0\n    fail-mode: secure\n    controllers: ["tcp:127.0.0.1:${ctl.ofPort}"]\n    ports:\n${ports}`;
    s1 = await SwitchProc.start(bridge('s1', port(1, 'a1', hosts.a1.root) + port(10, 'trunk', t12)));
    s2 = await SwitchProc.start(bridge('s2', port(1, 'b1', hosts.b1.root) + port(10, 'trunk', t21)));
    await ctl.ok(['net', 'create', 'blue', '--vid', '100']);
    await ctl.ok(['channel', 'create', 'gold', '--rate', '20mbit', '--burst', '32kb']);
    await ctl.ok(['attach', 'blue', 's1/br0:a1', '--channel', 'gold']);
    await ctl.ok(['attach', 'blue', 's2/br0:b1']);
    await expectEventually('the trunk found by LLDP', async () => (JSON.parse(await ctl.ok(['topology', '--json'])) as { links: unknown[] }).links.length === 1);
    await expectEventually('a1 reaches b1', async () => (await lab.execAsync(hosts.a1.ns, ['ping', '-c', '1', '-W', '1', hosts.b1.ip], 10_000)).code === 0);

    browser = await chromium.launch({ executablePath: findOnPath('chromium')!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of [s1, s2]) await s?.stop();
    await ctl?.stop();
    lab?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('shows the topology, plots the channel, follows `sluice channel set` within 2 s, with no console error', async () => {
    const token = readFileSync(join(stateDir, 'api-token'), 'utf8').trim();
    // The token rides in the fragment: the browser never sends it to the server but as a header.
    await page.goto(`http://127.0.0.1:${ctl.apiPort}/ui#token=${token}`);
    await page.waitForSelector('#status.live', { timeout: 15_000 });
    expect(page.url()).not.toContain(token);
    // The topology: both switches, the trunk between them, the network and its attachments.
    await page.waitForSelector('#switches tr[data-switch="s2/br0"]', { timeout: 15_000 });
    const text = (sel: string): Promise<string> => page.locator(sel).innerText();
    expect(await text('#switches')).toMatch(/s1\/br0[\s\S]*connected[\s\S]*s2\/br0[\s\S]*connected/);
    expect(await text('#links')).toMatch(/s\d\/br0:trunk\s+s\d\/br0:trunk\s+forwarding/);
    expect(await text('#networks')).toMatch(/blue\s+100\s+–\s+2/);
    expect(await text('#attachments tr[data-attachment="s1/br0:a1"]')).toMatch(/s1\/br0\s+a1\s+blue\s+gold/);
    const gold = page.locator('.channel[data-channel="gold"]');
    expect(await gold.locator('.limit').innerText()).toBe('20mbit');
    await gold.locator('canvas').first().waitFor({ timeout: 5000 });

    await iperf(lab, hosts.a1!, hosts.b1!, ['-u', '-b', '40M', '-t', '16', '-l', '1200'], {
      during: async () => {
        // Samples with traffic reach the plot (the meter passes ~20 of the 40 Mbit/s offered).
        await expectEventually('traffic on the plot', async () => Number(await gold.getAttribute('data-limit-per-sec')) === 20e6
          && /Mbit\/s/.test(await gold.locator('.now').innerText()), 15_000);
        await ctl.ok(['channel', 'set', 'gold', '--rate', '5mbit']);
        const t0 = performance.now();
        // The page's limit follows (the event), and so does the plot (a sample with the new limit).
        await page.waitForFunction(() => document.querySelector('.channel[data-channel="gold"] .limit')?.textContent === '5mbit', undefined, { timeout: 2000, polling: 50 });
        await page.waitForFunction(() => (document.querySelector('.channel[data-channel="gold"]') as HTMLElement | null)?.dataset.limitPerSec === '5000000', undefined, { timeout: 2000, polling: 50 });
        console.log(`[dashboard] the page showed the new limit ${(performance.now() - t0).toFixed(0)} ms after \`sluice channel set\` returned`);
        // A few seconds of the new limit on the plot, then the picture.
        await new Promise((r) => setTimeout(r, 4000));
        mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        console.log(`[dashboard] screenshot: ${SCREENSHOT}`);
      },
    });
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it('sets a channel\'s rate from the page (PATCH through the API)', async () => {
    const gold = page.locator('.channel[data-channel="gold"]');
    await gold.locator('input[name="rate"]').fill('7mbit');
    await gold.locator('button[type="submit"]').click();
    await page.waitForFunction(() => document.querySelector('.channel[data-channel="gold"] .limit')?.textContent === '7mbit', undefined, { timeout: 5000 });
    expect(await ctl.ok(['channel', 'list', '--json'])).toMatch(/"rate":\s*"7mbit"/);
    // A refused rate is shown next to the form, in one line, and changes nothing.
    await gold.locator('input[name="rate"]').fill('5mbps');
    await gold.locator('button[type="submit"]').click();
    await page.waitForFunction(() => /BYTES/.test(document.querySelector('.channel[data-channel="gold"] .error')?.textContent ?? ''), undefined, { timeout: 5000 });
    expect(await gold.locator('.limit').innerText()).toBe('7mbit');
    expect(consoleErrors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  }, 30_000);
}, { tools: ['ping', 'iperf3', 'ethtool', 'chromium'] });
