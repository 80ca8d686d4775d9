// End-to-end tests of the SmartStock desktop app as a user meets it: the real app (Tauri CLI
// build) under Xvfb, driven through tauri-driver + WebKitWebDriver, against a real
// smartstock-server (TLS, demo company) that the test stops and starts to take desktops offline.
// run.sh sets up the display, D-Bus, keyring, fake notification daemon and driver.
//
// 1. Sign in; record each kind of movement; go offline (server stopped); record more; come back;
//    see everything synced and the levels right (checked against the server's own stock API).
// 2. A second instance (another data dir) and the first each sell the last unit offline; after
//    both sync, the negative-stock alert is in both inboxes, each desktop raised exactly one OS
//    notification for it (fake daemon's log), restarts did not repeat it.
// 3. Both desktops change the same product's price offline; after both sync they show the same
//    (later) price, and the desktop whose edit lost has a catalog notice in its inbox.
// 4. The refresh token lives in the OS keyring only: sessions resume after restarts without a
//    password, and the token appears in no file under the app's data folders.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { openAppSession, saveScreenshot } from './driver.mjs';

const work = process.env.E2E_WORK;
const shots = process.env.E2E_SHOTS;
const appBin = process.env.E2E_APP;
const serverBin = process.env.E2E_SERVER;
const dataA = path.join(work, 'desktop-a');
const dataB = path.join(work, 'desktop-b');
const USER = 'manager';
const PASSWORD = 'Demo-Manager-2026';
const SKU = 'HW-00007';
const LAST_UNIT_SKU = 'HW-00013';
const PRICED_SKU = 'HW-00019';

let server = null;
let port = 0;
const serverUrl = () => `https://localhost:${port}`;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function startServer() {
  const log = fs.openSync(path.join(work, 'server.log'), 'a');
  server = spawn(
    serverBin,
    [
      '--database', path.join(work, 'server.db'), 'serve', '--listen', `127.0.0.1:${port}`,
      '--tls-cert', path.join(work, 'tls/cert.pem'), '--tls-key', path.join(work, 'tls/key.pem'),
    ],
    { stdio: ['ignore', log, log] },
  );
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${serverUrl()}/healthz`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error('smartstock-server did not start; see server.log');
}

async function stopServer() {
  if (!server) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
  server = null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One app instance with its own data folder, driven by one WebDriver session. */
async function openApp(dataDir) {
  const browser = await openAppSession({
    port: process.env.E2E_DRIVER_PORT,
    application: appBin,
    args: ['--data-dir', dataDir],
    readySelector: '[data-testid=sync-status], #server-url',
  });
  opened.add(browser);
  return browser;
}

/** Sessions still open: a failed test leaves its app open; afterEach saves its screen and closes it. */
const opened = new Set();
let failures = 0;

async function closeApp(browser) {
  opened.delete(browser);
  await browser.deleteSession();
  await sleep(500);
}

async function shot(browser, name) {
  await saveScreenshot(browser, path.join(shots, `${name}.png`));
}

async function signIn(browser) {
  const url = await browser.$('#server-url');
  await url.waitForDisplayed({ timeout: 20000 });
  await url.setValue(serverUrl());
  await browser.$('#username').setValue(USER);
  await browser.$('#password').setValue(PASSWORD);
  await browser.$('[data-testid=sign-in]').click();
  await waitSync(browser, 'online');
}

async function waitSync(browser, state, timeout = 60000) {
  await browser.waitUntil(
    async () => (await browser.$('[data-testid=sync-status]').getAttribute('data-state')) === state,
    { timeout, timeoutMsg: `sync state never became ${state}` },
  );
}

async function pending(browser) {
  return Number((await browser.$('[data-testid=pending-count]').getText()).replace(/,/g, ''));
}

async function syncedNow(browser) {
  await browser.$('[data-testid=sync-now]').click();
  await browser.waitUntil(async () => (await pending(browser)) === 0, {
    timeout: 60000,
    timeoutMsg: 'movements stayed pending',
  });
  await waitSync(browser, 'online');
}

async function go(browser, screen) {
  await browser.$(`[data-testid=nav-${screen}]`).click();
}

/** Picks the option of `select` whose text starts with `prefix` (the location code). */
async function choose(browser, selector, prefix) {
  const ok = await browser.execute(
    (sel, pre) => {
      const s = document.querySelector(sel);
      const o = s && [...s.options].find((x) => x.text.trim().startsWith(pre));
      if (!o) return false;
      s.value = o.value;
      s.dispatchEvent(new Event('change', { bubbles: true }));
      return true;
    },
    selector,
    prefix,
  );
  assert.ok(ok, `no option ${prefix} in ${selector}`);
}

async function setField(browser, selector, value) {
  const el = await browser.$(selector);
  await el.waitForDisplayed({ timeout: 10000 });
  await el.clearValue();
  await el.setValue(String(value));
}

async function chooseProduct(browser, sku) {
  await setField(browser, '#product', sku);
  await browser.keys('Enter');
  await browser.$('[data-testid=product-name]').waitForDisplayed({ timeout: 10000 });
}

/** Records one movement through the form; returns the result text. */
async function record(browser, kind, fields) {
  await go(browser, 'record');
  await browser.$(`[data-testid=kind-${kind}]`).click();
  if (fields.product) await chooseProduct(browser, fields.product);
  if (fields.location) await choose(browser, '#location', fields.location);
  if (fields.to) await choose(browser, '#to-location', fields.to);
  if (fields.transfer) {
    await browser.waitUntil(async () => (await browser.$$('#transfer option')).length > 0 && (await browser.$('#transfer').getValue()) !== '', { timeout: 10000 });
  }
  if (fields.reason) await choose(browser, '#reason', fields.reason);
  if (fields.quantity !== undefined) await setField(browser, '#quantity', fields.quantity);
  if (fields.delta !== undefined) await setField(browser, '#delta', fields.delta);
  if (fields.movementId) await setField(browser, '#movement-id', fields.movementId);
  if (fields.note) await setField(browser, '#note', fields.note);
  await browser.$('[data-testid=record-submit]').click();
  if (kind === 'count') {
    await browser.$('[data-testid=count-variance]').waitForDisplayed({ timeout: 10000 });
    if (fields.onShot) await fields.onShot();
    await browser.$('[data-testid=record-submit]').click();
  }
  const result = await browser.$('[data-testid=record-result], [data-testid=form-error]');
  await result.waitForDisplayed({ timeout: 15000 });
  const text = await result.getText();
  assert.equal(await result.getAttribute('data-testid'), 'record-result', `${kind} refused: ${text}`);
  return text;
}

/** The level the stock table shows for `sku` at `code` (once the search shows only that SKU). */
async function shownLevel(browser, sku, code) {
  await go(browser, 'stock');
  await setField(browser, '#stock-search', sku);
  let text = '';
  await browser.waitUntil(
    async () => {
      const skus = await browser.$$('[data-testid=stock-row]').map((r) => r.getAttribute('data-sku'));
      if (skus.length === 0 || skus.some((s) => s !== sku)) return false;
      const row = await browser.$(`[data-testid=stock-row][data-sku="${sku}"][data-location="${code}"]`);
      if (!(await row.isExisting())) return false;
      text = String(await row.$('[data-testid=on-hand]').getProperty('textContent')).trim();
      return text !== '';
    },
    { timeout: 10000, timeoutMsg: `no stock row for ${sku} at ${code}` },
  );
  return Number(text.replace(/[^\d.-]/g, ''));
}

/** The server's own level (its stock API), as the system of record sees it; the ids of the SKU
 *  and location code come from the app's catalog (the same ids everywhere). */
let token = null;
async function serverLevel(browser, sku, code) {
  if (!token) {
    const r = await fetch(`${serverUrl()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'Demo-Admin-2026' }),
    });
    assert.equal(r.status, 200);
    token = (await r.json()).access_token;
  }
  const ids = await browser.execute(async (sku, code) => {
    const product = await window.__TAURI_INTERNALS__.invoke('find_product', { code: sku });
    const catalog = await window.__TAURI_INTERNALS__.invoke('catalog');
    return { product: product.id, location: catalog.locations.find((l) => l.code === code).id };
  }, sku, code);
  const r = await fetch(`${serverUrl()}/api/v1/stock`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  const row = (await r.json()).find((l) => l.product_id === ids.product && l.location_id === ids.location);
  assert.ok(row, `the server has no level for ${sku} at ${code}`);
  return row.on_hand;
}

/** The newest movement's id, as the audit screen lists it (through the app's own command). */
async function newestMovementId(browser) {
  return browser.execute(async () => {
    const rows = await window.__TAURI_INTERNALS__.invoke('ledger', { query: { limit: 1 } });
    return rows[0].movement.id;
  });
}

/** Waits until the inbox lists an alert of `kind` that names `sku`. */
async function waitForAlert(browser, kind, sku) {
  await browser.waitUntil(
    async () => {
      const texts = await browser
        .$$(`[data-testid=alert-item][data-kind=${kind}]`)
        .map((item) => item.getProperty('textContent'));
      return texts.some((t) => String(t).includes(sku));
    },
    { timeout: 30000, timeoutMsg: `no ${kind} alert for ${sku} in the inbox` },
  );
}

/** Opens the product screen of `sku` the way a user does: search the stock table, Enter. */
async function openProduct(browser, sku) {
  await go(browser, 'stock');
  await setField(browser, '#stock-search', sku);
  await browser.waitUntil(
    async () => {
      const skus = await browser.$$('[data-testid=stock-row]').map((r) => r.getAttribute('data-sku'));
      return skus.length > 0 && skus.every((s) => s === sku);
    },
    { timeout: 10000, timeoutMsg: `the stock search never showed only ${sku}` },
  );
  await browser.keys('Enter');
  await browser.$('[data-testid=product-title]').waitForDisplayed({ timeout: 10000 });
}

async function shownPrice(browser, sku) {
  await openProduct(browser, sku);
  return browser.$('[data-testid=product-price]').getText();
}

/** Changes the product's price through its edit form; `onShot` runs with the form filled in. */
async function editPrice(browser, sku, price, onShot) {
  await openProduct(browser, sku);
  await browser.$('[data-testid=edit-product]').click();
  await setField(browser, '#pf-price', price);
  if (onShot) await onShot();
  await browser.$('[data-testid=save-product]').click();
  await browser.$('[data-testid=product-saved]').waitForDisplayed({ timeout: 10000 });
  assert.equal(await browser.$('[data-testid=product-price]').getText(), price);
}

function notifyCalls(text) {
  const log = path.join(work, 'notify.log');
  if (!fs.existsSync(log)) return [];
  return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('Notify') && l.includes(text));
}

before(async () => {
  port = await freePort();
  await startServer();
});

after(async () => {
  await stopServer();
});

afterEach(async () => {
  for (const browser of opened) {
    failures += 1;
    await shot(browser, `failed-${failures}`).catch(() => {});
    await closeApp(browser).catch(() => {});
  }
  if (!server) await startServer();
});

test('sign in, record every kind of movement, go offline, come back: all synced, levels right', async () => {
  const app = await openApp(dataA);
  await shot(app, '01-sign-in');
  await signIn(app);
  await app.$('[data-testid=stock-row]').waitForDisplayed({ timeout: 30000 });
  await shot(app, '02-stock');

  const before = { wh1: await shownLevel(app, SKU, 'WH1'), wh2: await shownLevel(app, SKU, 'WH2').catch(() => 0) };
  await record(app, 'receive', { product: SKU, location: 'WH1', quantity: 10, note: 'Delivery 4711' });
  await shot(app, '03-record-receive');
  await record(app, 'issue', { product: SKU, location: 'WH1', quantity: 3 });
  await record(app, 'adjust', { product: SKU, location: 'WH1', delta: -1, reason: 'Damaged' });
  await record(app, 'transfer', { product: SKU, location: 'WH1', to: 'WH2', quantity: 2 });
  await record(app, 'dispatch', { product: SKU, location: 'WH1', to: 'SHOP1', quantity: 1 });
  await record(app, 'receive_transfer', { transfer: true });
  await record(app, 'receive', { product: SKU, location: 'WH1', quantity: 5, note: 'wrong delivery' });
  const wrong = await newestMovementId(app);
  await record(app, 'void', { movementId: wrong, note: 'Entered twice' });
  const counted = before.wh2 + 2 - 1;
  await record(app, 'count', {
    product: SKU, location: 'WH2', quantity: counted,
    onShot: () => shot(app, '04-count-variance'),
  });
  assert.equal(await shownLevel(app, SKU, 'WH1'), before.wh1 + 10 - 3 - 1 - 2 - 1);
  assert.equal(await shownLevel(app, SKU, 'WH2'), counted);
  await syncedNow(app);

  await stopServer();
  await record(app, 'issue', { product: SKU, location: 'WH1', quantity: 1 });
  await waitSync(app, 'offline');
  assert.ok((await pending(app)) >= 1, 'the offline sale waits for the server');
  assert.equal(await shownLevel(app, SKU, 'WH1'), before.wh1 + 10 - 3 - 1 - 2 - 1 - 1, 'shown at once, offline');
  await shot(app, '05-offline');
  await startServer();
  await syncedNow(app);
  await shot(app, '06-back-online');
  const wh1 = before.wh1 + 10 - 3 - 1 - 2 - 1 - 1;
  assert.equal(await serverLevel(app, SKU, 'WH1'), wh1);
  assert.equal(await serverLevel(app, SKU, 'WH2'), counted);
  assert.equal(await shownLevel(app, SKU, 'WH1'), wh1);

  await go(app, 'audit');
  await shot(app, '07-audit');
  await go(app, 'settings');
  await shot(app, '08-settings');
  await closeApp(app);
});

test('two desktops sell the last unit offline: both kept, one alert in both inboxes, one notification each', async () => {
  let a = await openApp(dataA);
  await waitSync(a, 'online'); // the session resumed from the keyring: no password asked
  await record(a, 'count', { product: LAST_UNIT_SKU, location: 'SHOP1', quantity: 1 });
  await syncedNow(a);
  await closeApp(a);

  let b = await openApp(dataB);
  await signIn(b);
  await b.waitUntil(async () => (await shownLevel(b, LAST_UNIT_SKU, 'SHOP1').catch(() => null)) === 1, {
    timeout: 30000, timeoutMsg: 'the second desktop never saw the count',
  });
  await stopServer();
  await record(b, 'issue', { product: LAST_UNIT_SKU, location: 'SHOP1', quantity: 1 });
  await closeApp(b);

  a = await openApp(dataA);
  await record(a, 'issue', { product: LAST_UNIT_SKU, location: 'SHOP1', quantity: 1 });
  await startServer();
  await syncedNow(a);
  await closeApp(a);

  b = await openApp(dataB);
  await waitSync(b, 'online');
  await syncedNow(b);
  assert.equal(await serverLevel(b, LAST_UNIT_SKU, 'SHOP1'), -1, 'both sales kept');
  await go(b, 'alerts');
  await waitForAlert(b, 'negative_stock', LAST_UNIT_SKU);
  await shot(b, '09-alerts-second-desktop');
  await closeApp(b);

  a = await openApp(dataA);
  await waitSync(a, 'online');
  await syncedNow(a);
  await go(a, 'alerts');
  await waitForAlert(a, 'negative_stock', LAST_UNIT_SKU);
  assert.equal(await shownLevel(a, LAST_UNIT_SKU, 'SHOP1'), -1);
  await shot(a, '10-negative-level');
  await sleep(2000);
  await closeApp(a);

  const calls = notifyCalls(LAST_UNIT_SKU);
  assert.equal(calls.length, 2, `one notification per desktop, none repeated after restarts:\n${calls.join('\n')}`);
  assert.ok(calls.every((c) => c.includes('Negative stock') && c.includes('SHOP1')), calls.join('\n'));
});

test('two desktops change one price offline: both show the later price, the other desktop is told', async () => {
  let a = await openApp(dataA);
  await waitSync(a, 'online');
  const before = await shownPrice(a, PRICED_SKU);
  assert.notEqual(before, '7.00');
  await stopServer();
  await editPrice(a, PRICED_SKU, '5.00');
  await waitSync(a, 'offline');
  assert.ok((await pending(a)) >= 1, 'the offline edit waits for the server');
  await closeApp(a);

  let b = await openApp(dataB);
  await editPrice(b, PRICED_SKU, '7.00', async () => {
    await sleep(500); // let the webview paint the typed value
    await shot(b, '11-edit-product');
  });
  await closeApp(b);

  await startServer();
  a = await openApp(dataA);
  await waitSync(a, 'online');
  await syncedNow(a);
  await closeApp(a);

  b = await openApp(dataB);
  await waitSync(b, 'online');
  await syncedNow(b);
  assert.equal(await shownPrice(b, PRICED_SKU), '7.00', 'the later edit is kept');
  await closeApp(b);

  a = await openApp(dataA);
  await waitSync(a, 'online');
  await syncedNow(a);
  assert.equal(await shownPrice(a, PRICED_SKU), '7.00', 'both desktops show the same price');
  await go(a, 'alerts');
  const notice = await a.$(`[data-testid=catalog-notice][data-kind=edit_lost][data-code="${PRICED_SKU}"]`);
  await notice.waitForDisplayed({ timeout: 30000, timeoutMsg: 'the losing desktop was not told' });
  const told = String(await notice.getText()).replace(/\s+/g, ' ');
  assert.match(told, /Your value 5\.00 was replaced .* 7\.00 is kept/, told);
  assert.ok(Number(await a.$('[data-testid=alerts-badge]').getText()) >= 1);
  await notice.scrollIntoView({ block: 'center' });
  await sleep(300);
  await shot(a, '12-inbox-catalog-notice');
  await notice.$('[data-testid=dismiss-notice]').click();
  await notice.waitForExist({ reverse: true, timeout: 10000 });
  await closeApp(a);
});

test('the refresh token is in the OS keyring and in no file the app wrote', () => {
  const found = execFileSync('secret-tool', ['search', '--all', 'service', 'SmartStock'], { encoding: 'utf8' });
  console.log(`secret store entries:\n${found}`);
  const tokens = [...found.matchAll(/^secret = (.+)$/gm)].flatMap((m) => m[1].split(/\s+/)).filter(Boolean);
  assert.ok(tokens.length >= 2, `both desktops keep a token in the keyring: ${found}`);
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(dataA);
  walk(dataB);
  assert.ok(files.some((f) => f.endsWith('ledger.sqlite3')));
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const t of tokens) {
      assert.equal(bytes.includes(Buffer.from(t)), false, `token found in ${file}`);
    }
  }
  for (const log of ['tauri-driver.log']) {
    const text = fs.readFileSync(path.join(work, log), 'utf8');
    for (const t of tokens) assert.equal(text.includes(t), false, `token found in ${log}`);
  }
});
