// The self-update end to end (issue #6), run by run.sh: version N of the app, installed from its
// signed .deb with dpkg, runs under Xvfb through tauri-driver + WebKitWebDriver, signed in to a
// real smartstock-server whose update feed (--updates-dir) offers N+1.
//
// 1. A tampered N+1 (a byte changed after signing) is found at start, shown with its notes, and
//    refused at install with a clear message; N keeps running and stays installed.
// 2. The same with N+1 signed by another key.
// 3. The good N+1 installs after the user agrees (progress shown), the app restarts into it, and
//    the restarted app reports N+1 (the package database says N+1 too).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { openAppSession, saveScreenshot } from '../e2e/driver.mjs';

const env = process.env;
const work = env.UPDATE_WORK;
const shots = path.join(work, 'screenshots');
const appBin = env.UPDATE_APP;
const dataDir = path.join(work, 'desktop');
const versionN = env.UPDATE_VERSION_N;
const versionNext = env.UPDATE_VERSION_NEXT;
const feed = env.UPDATE_FEED;
const serverUrl = env.SMARTSTOCK_SERVER_URL;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server = null;

async function startServer() {
  const log = fs.openSync(path.join(work, 'server.log'), 'a');
  server = spawn(
    env.UPDATE_SERVER,
    [
      '--database', path.join(work, 'server.db'), 'serve', '--listen', `127.0.0.1:${env.UPDATE_SERVER_PORT}`,
      '--tls-cert', path.join(work, 'tls/cert.pem'), '--tls-key', path.join(work, 'tls/key.pem'),
      '--updates-dir', feed,
    ],
    { stdio: ['ignore', log, log] },
  );
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${serverUrl}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error('smartstock-server did not start; see server.log');
}

/** The feed offers exactly this release folder (one of run.sh's cases) from now on. */
function offer(caseDir) {
  fs.rmSync(feed, { recursive: true, force: true });
  fs.mkdirSync(feed, { recursive: true });
  fs.cpSync(caseDir, path.join(feed, path.basename(caseDir)), { recursive: true });
}

function installedVersion() {
  return execFileSync('dpkg-query', ['-W', '-f', '${Version}', env.UPDATE_PACKAGE], { encoding: 'utf8' }).trim();
}

/** Pids of running processes whose executable is the installed app. */
function appProcesses() {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/exe`) === appBin) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Whether a process runs (a zombie waiting for its parent does not). */
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A picture of the whole X display (the restarted app is not under the driver). */
function screenOfDisplay(name) {
  execFileSync('import', ['-window', 'root', path.join(shots, `${name}.png`)]);
}

const opened = new Set();
let failures = 0;

async function openApp() {
  const browser = await openAppSession({
    port: env.UPDATE_DRIVER_PORT,
    application: appBin,
    args: ['--data-dir', dataDir],
    readySelector: '[data-testid=sync-status]',
  });
  opened.add(browser);
  return browser;
}

async function closeApp(browser) {
  opened.delete(browser);
  await Promise.race([browser.deleteSession().catch(() => {}), sleep(10000)]);
  await sleep(500);
}

async function shot(browser, name) {
  await saveScreenshot(browser, path.join(shots, `${name}.png`));
}

async function text(browser, testid, timeout = 30000) {
  const el = await browser.$(`[data-testid=${testid}]`);
  await el.waitForDisplayed({ timeout });
  return el.getText();
}

/** Start: the app checks by itself once online and offers the release in a banner. */
async function offeredAtStart(browser, caseName, shotName = null) {
  const banner = await text(browser, 'update-banner', 60000);
  assert.match(banner, new RegExp(`${versionNext.replaceAll('.', '\\.')} is available`));
  if (shotName) {
    await sleep(500); // the driver's screenshot can lag the first paint of the banner
    await shot(browser, shotName);
  }
  await browser.$('[data-testid=update-banner-open]').click();
  const notes = await text(browser, 'update-notes');
  assert.match(notes, new RegExp(`${caseName} build`), 'the notes of the offered release are shown');
}

/** Asks, agrees, and expects the refusal of an artifact that does not verify. */
async function refusedAtInstall(browser, name) {
  await browser.$('[data-testid=update-ask]').click();
  await browser.$('[data-testid=update-install]').click();
  const error = await text(browser, 'update-error', 300000);
  assert.match(error, /signature does not verify/);
  assert.match(error, /not installed/);
  await shot(browser, name);
  assert.equal(await text(browser, 'app-version'), versionN, 'N keeps running');
  assert.equal(installedVersion(), versionN, 'N stays installed');
  assert.ok(appProcesses().length > 0, 'the app is still running');
}

before(async () => {
  fs.mkdirSync(shots, { recursive: true });
  offer(env.UPDATE_CASE_TAMPERED);
  await startServer();
});

after(async () => {
  for (const pid of appProcesses()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  server?.kill('SIGTERM');
});

afterEach(async () => {
  for (const browser of opened) {
    failures += 1;
    await shot(browser, `failed-${failures}`).catch(() => {});
    await closeApp(browser);
  }
});

test(`version ${versionN} refuses a tampered ${versionNext} and keeps running`, async () => {
  assert.equal(installedVersion(), versionN);
  const app = await openApp();
  await app.waitUntil(async () => (await app.$('[data-testid=sync-status]').getAttribute('data-state')) === 'online', {
    timeout: 60000,
    timeoutMsg: 'the app did not get online',
  });
  await offeredAtStart(app, 'tampered', 'update-offered');
  await refusedAtInstall(app, 'update-refused-tampered');
  await closeApp(app);
});

test(`version ${versionN} refuses ${versionNext} signed with another key`, async () => {
  offer(env.UPDATE_CASE_OTHER);
  const app = await openApp();
  await offeredAtStart(app, 'other-key');
  await refusedAtInstall(app, 'update-refused-other-key');
  await closeApp(app);
});

test(`version ${versionN} installs the signed ${versionNext}, restarts into it and reports it`, async () => {
  offer(env.UPDATE_CASE_GOOD);
  const app = await openApp();
  const before = new Set(appProcesses());
  assert.ok(before.size > 0);
  await offeredAtStart(app, 'good');
  await app.$('[data-testid=update-ask]').click();
  await shot(app, 'update-ask');
  await app.$('[data-testid=update-install]').click();
  await text(app, 'update-progress');

  // The app installs the package and starts again as a new process of the new executable.
  let restarted = [];
  for (let i = 0; i < 600 && restarted.length === 0; i++) {
    await sleep(500);
    restarted = installedVersion() === versionNext ? appProcesses().filter((pid) => !before.has(pid)) : [];
  }
  assert.equal(installedVersion(), versionNext, 'dpkg has the new version');
  assert.equal(restarted.length, 1, 'the app restarted into the new executable');
  for (const pid of before) assert.ok(!running(pid), `version ${versionN} (pid ${pid}) exited`);
  // The restarted process runs the new executable (its /proc exe link is the installed file, not
  // a deleted one); then it is closed so that the driver can open the app again (one app per
  // data folder) and read the version it shows.
  await sleep(8000);
  assert.ok(running(restarted[0]), 'the restarted app keeps running');
  screenOfDisplay('update-restarted');
  process.kill(restarted[0], 'SIGTERM');
  for (let i = 0; i < 100 && running(restarted[0]); i++) await sleep(100);
  await closeApp(app);

  const updated = await openApp();
  await updated.$('[data-testid=nav-settings]').click();
  assert.equal(await text(updated, 'app-version'), versionNext, 'the app reports the new version');
  await updated.$('[data-testid=update-check]').click();
  await text(updated, 'update-current');
  assert.equal(await updated.$('[data-testid=update-banner]').isExisting(), false);
  await shot(updated, 'updated');
  await closeApp(updated);
});
