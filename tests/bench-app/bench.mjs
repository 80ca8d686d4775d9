// `make bench-app`: the release desktop app (Tauri CLI build) on a seeded local store of 100k
// products × 5 locations, under Xvfb, driven by tauri-driver + WebKitWebDriver. run.sh seeds the
// store, sets up the display and D-Bus, starts the driver and runs this script.
//
// Measures, and prints as `BENCH <name> <value> <unit> baseline=<value> ratio=<value>`:
// - app.filter_keystroke_p50 / _p99: keystroke → rows in the DOM. Each search text is typed key
//   by key on the keyboard: real X key events (xdotool, through the X server into GTK, the path
//   of a keyboard or a barcode scanner), one key every BENCH_KEY_GAP_MS (120), with WebDriver
//   idle meanwhile. In the page, a capture-phase keydown listener on the window takes
//   performance.now(); the end is the end of the app's own `stock:filter` User Timing measure
//   for the query that keystroke started (Stock.svelte ends it after the rows of the new query
//   are in the DOM: `stock_page` command round trip, Svelte update). stderr splits it where the
//   query is sent and where the command's answer arrives (Stock.svelte marks `stock:answer`).
//   Baseline: a raw rusqlite query of the same filter (first page + count) on the same file,
//   measured in this run by `seed-bench-store query` (median per search text, the same
//   keystroke texts).
// - app.filter_keystroke_webdriver_p50 / _p99: the same keys typed through WebDriver (element
//   send keys, the next key once the page has the last one's rows), as earlier runs measured;
//   baseline: the keyboard's figure. WebKit's automation synthesizes each key in the UI process
//   and the harness polls the page while the query is in flight, so these carry the driver's
//   own work. `app.filter_keystroke_frame_*` is that span to the next animation frame.
// - app.start_to_rows: process start (from /proc/<pid>/stat) → first stock rows in the DOM (the
//   first `stock:filter` measure's end, wall clock via performance.timeOrigin); median of runs.
// - app.rss: VmRSS of the app process after load and the searches; WebKit's web and network
//   processes (children of the app) are printed separately and as a sum.
// - app.frame: milliseconds per animation frame (median of 30) while one small element changes
//   each frame on the Stock screen. Baseline: the same with the table card clipping its scroller
//   to its rounded corners, as it did before (composited, WebKit draws that clip per pixel at
//   every frame: on llvmpipe most of a frame; without a GPU the app no longer composites, and
//   then the two are alike). CSS for the baseline goes in through a constructed
//   style sheet: the app's CSP refuses <style> elements.
// - app.frame_cpu: the web process's CPU time per frame (user + system, /proc) over 200 such
//   frames, beside the frame's own time (the median interval): what a frame costs the cores.
//   Without a GPU the app turns WebKit's compositing off (src-tauri/lib.rs);
//   `WEBKIT_DISABLE_COMPOSITING_MODE=0 make bench-app` measures it composited.
// - app.binary_size: the release binary.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openAppSession, saveScreenshot } from '../e2e/driver.mjs';

const appBin = process.env.BENCH_APP;
const dataDir = process.env.BENCH_DATA;
const seedBin = process.env.BENCH_SEED;
const startRuns = Number(process.env.BENCH_START_RUNS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Clock ticks per second of /proc's times. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
/** Frames over which the web process's CPU time per frame is taken. */
const FRAMES_FOR_CPU = 200;
/** Time between keys typed on the keyboard: longer than any keystroke's rows take. */
const KEY_GAP_MS = Number(process.env.BENCH_KEY_GAP_MS ?? 120);

/** What warehouse staff type: SKUs, product names, a scanned barcode, something absent. */
const SEARCHES = (process.env.BENCH_SEARCHES ?? 'HW-0042|hex bolt|wall paint|TL-01234|4000000000707|screwdriver|cable tie|xyz')
  .split('|');

function bench(name, value, unit, baseline, digits = 3) {
  const ratio = baseline > 0 ? value / baseline : NaN;
  console.log(`BENCH ${name} ${value.toFixed(digits)} ${unit} baseline=${baseline.toFixed(digits)} ratio=${ratio.toFixed(2)}`);
}

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** "p50 / p99" of `values`, for stderr. */
function spread(values) {
  return `${percentile(values, 0.5).toFixed(1)} / ${percentile(values, 0.99).toFixed(1)}`;
}

async function openApp() {
  return openAppSession({ port: process.env.BENCH_DRIVER_PORT, application: appBin, args: ['--data-dir', dataDir] });
}

/** The app's process: the newest process running appBin with our data dir. */
function appPid() {
  let best = null;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const exe = fs.readlinkSync(`/proc/${pid}/exe`);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (exe === fs.realpathSync(appBin) && cmd.includes(dataDir)) {
        const start = startTicks(pid);
        if (!best || start > best.start) best = { pid: Number(pid), start };
      }
    } catch {
      // gone, or not ours
    }
  }
  if (!best) throw new Error(`no running ${appBin} with --data-dir ${dataDir}`);
  return best.pid;
}

function startTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/**
 * Process start as Unix ms: now, less the process's age (uptime − start ticks / CLK_TCK, both
 * since boot at 10 ms resolution). Not /proc/stat's btime + start ticks: btime is the boot time
 * truncated to whole seconds, which would put the start up to 1 s early (0.998 s on one machine).
 */
function processStartMs(pid) {
  const ticks = startTicks(pid);
  const uptimeMs = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  return Date.now() - (uptimeMs - (ticks / CLK_TCK) * 1000);
}

/** CPU time (user + system) a process has used, in ms (10 ms resolution). */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function rssKb(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) {
        out.push({ pid: Number(d), name: fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() });
        out.push(...children(Number(d)));
      }
    } catch {
      // gone
    }
  }
  return out;
}

/** Waits for the first stock rows; returns the wall-clock ms at which they entered the DOM. */
async function firstRowsAt(browser) {
  await browser.$('[data-testid=stock-row]').waitForExist({ timeout: 120000, interval: 20 });
  return browser.execute(() => {
    const m = performance.getEntriesByName('stock:filter');
    return m.length ? performance.timeOrigin + m[0].startTime + m[0].duration : null;
  });
}

/** Installs the in-page keystroke clock. */
async function instrument(browser) {
  await browser.execute(() => {
    const w = /** @type {any} */ (window);
    if (w.__bench) return;
    w.__bench = { keys: [] };
    window.addEventListener(
      'keydown',
      (e) => {
        const modifier = ['Shift', 'Control', 'Alt', 'Meta'].includes(e.key); // typing a capital: Shift, then the letter
        if (e.target instanceof HTMLElement && e.target.id === 'stock-search' && !modifier) w.__bench.keys.push(performance.now());
      },
      { capture: true },
    );
  });
}

/**
 * Waits (in the page) for the `stock:filter` measure of the last keystroke; returns
 * [keystroke → rows in DOM, keystroke → next animation frame, rows shown, keystroke → answer,
 * keystroke → query sent] in ms.
 */
async function lastKeystroke(browser) {
  return browser.executeAsync((done) => {
    const w = /** @type {any} */ (window);
    const key = w.__bench.keys[w.__bench.keys.length - 1];
    const limit = performance.now() + 60000;
    const poll = () => {
      const m = performance.getEntriesByName('stock:filter').find((e) => e.startTime >= key);
      if (m) {
        const end = m.startTime + m.duration;
        const answer = performance.getEntriesByName('stock:answer').find((e) => e.startTime >= m.startTime);
        requestAnimationFrame((frame) => {
          const rows = document.querySelectorAll('[data-testid=stock-row]').length;
          done([end - key, Math.max(frame, end) - key, rows, answer ? answer.startTime - key : NaN, m.startTime - key]);
        });
      } else if (performance.now() > limit) {
        done(null);
      } else {
        setTimeout(poll, 1);
      }
    };
    poll();
  });
}

/**
 * Milliseconds per animation frame (median of `frames`) with `css` applied, one small element
 * changing.
 */
async function frameMs(browser, css, frames = 30) {
  return browser.executeAsync((css, frames, done) => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    document.adoptedStyleSheets = [sheet];
    const tick = document.createElement('div');
    Object.assign(tick.style, { position: 'fixed', left: '300px', top: '5px', width: '40px', height: '14px' });
    document.body.append(tick);
    setTimeout(() => {
      const times = [];
      let last = performance.now();
      let n = 0;
      const step = (t) => {
        times.push(t - last);
        last = t;
        tick.textContent = n % 2 ? 'a' : 'b';
        if (++n < frames) {
          requestAnimationFrame(step);
        } else {
          tick.remove();
          document.adoptedStyleSheets = [];
          times.sort((a, b) => a - b);
          done(times[frames >> 1]);
        }
      };
      requestAnimationFrame(step);
    }, 500);
  }, css, frames);
}

/** "to the query sent …, to the answer …, answer to rows …" (p50 / p99) of keystroke samples. */
function breakdown(samples) {
  const answered = samples.filter((s) => Number.isFinite(s.answer));
  return `to rows ${spread(samples.map((s) => s.dom))} ms (to the query sent ${spread(samples.map((s) => s.query))}, to the stock_page answer ${spread(answered.map((s) => s.answer))}, answer to rows in the DOM ${spread(answered.map((s) => s.dom - s.answer))})`;
}

/** The keys that type `text` and then clear it: one entry per key, `measured` where its query is new. */
function keysFor(text) {
  const keys = [];
  let typed = '';
  for (const ch of text) {
    const before = typed.trim();
    typed += ch;
    keys.push({ key: ch, text: typed.trim(), measured: typed.trim() !== before }); // a space: same query
  }
  keys.push({ key: 'Escape', text: '', measured: false }); // Escape clears the search (Stock.svelte)
  return keys;
}

/**
 * Types every search on the keyboard: real X key events (xdotool, through the X server into
 * GTK, as a keyboard or a barcode scanner sends them), one key every KEY_GAP_MS, WebDriver idle
 * meanwhile. Then reads, from the page, each key's keydown time and the `stock:filter` measure
 * (and `stock:answer` mark) of the query it started.
 */
async function typeOnTheKeyboard(browser) {
  const sent = [];
  await browser.execute(() => {
    /** @type {any} */ (window).__bench.keys.length = 0;
  });
  for (let round = 0; round < rounds; round++) {
    for (const text of SEARCHES) {
      for (const k of keysFor(text)) {
        if (k.key === 'Escape') execFileSync('xdotool', ['key', 'Escape']);
        else execFileSync('xdotool', ['type', '--delay', '0', '--', k.key]);
        sent.push(k);
        await sleep(k.key === 'Escape' ? 250 : KEY_GAP_MS);
      }
    }
  }
  await sleep(500);
  const [keys, filters, answers] = await browser.execute(() => {
    const w = /** @type {any} */ (window);
    const measures = performance.getEntriesByName('stock:filter').map((m) => [m.startTime, m.startTime + m.duration]);
    return [w.__bench.keys, measures, performance.getEntriesByName('stock:answer').map((m) => m.startTime)];
  });
  if (keys.length !== sent.length) {
    throw new Error(`the page saw ${keys.length} keydowns of the ${sent.length} keys typed (is the window focused?)`);
  }
  const samples = [];
  sent.forEach((k, i) => {
    if (!k.measured) return;
    const next = i + 1 < keys.length ? keys[i + 1] : Infinity;
    const filter = filters.find(([start]) => start >= keys[i] && start < next);
    if (!filter) throw new Error(`no rows for ${JSON.stringify(k.text)} before the next key (${KEY_GAP_MS} ms)`);
    const answer = answers.find((t) => t >= filter[0] && t <= filter[1]);
    samples.push({ text: k.text, dom: filter[1] - keys[i], query: filter[0] - keys[i], answer: answer === undefined ? NaN : answer - keys[i] });
  });
  console.error(`typed on the keyboard: ${samples.length} keystrokes`);
  return samples;
}

/**
 * Types every search through WebDriver (element send keys, one key at a time, waiting in the
 * page for each key's rows): the method of earlier runs. WebKit's automation synthesizes each
 * key in the UI process and the harness polls the page while the query is in flight, so these
 * figures carry the driver's own work on both processes' main threads.
 */
async function typeThroughWebDriver(browser, input) {
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    for (const text of SEARCHES) {
      for (const k of keysFor(text)) {
        await input.addValue(k.key === 'Escape' ? '\uE00C' : k.key);
        if (k.key === 'Escape') {
          if (!(await lastKeystroke(browser))) throw new Error('Escape did not bring the rows back');
          await sleep(200);
          continue;
        }
        if (!k.measured) continue;
        const r = await lastKeystroke(browser);
        if (!r) throw new Error(`no rows for ${JSON.stringify(k.text)}`);
        samples.push({ text: k.text, dom: r[0], frame: r[1], rows: r[2], answer: r[3], query: r[4] });
        await sleep(40);
      }
    }
  }
  console.error(`typed through WebDriver: ${samples.length} keystrokes`);
  return samples;
}

async function main() {
  // Start: a few launches of the app on the same (warm) store.
  const starts = [];
  for (let run = 0; run < startRuns; run++) {
    const browser = await openApp();
    const shownAt = await firstRowsAt(browser);
    const pid = appPid();
    const startedAt = processStartMs(pid);
    if (shownAt == null) throw new Error('no stock:filter measure for the first rows');
    starts.push(shownAt - startedAt);
    const [origin, query, script, status] = await browser.execute(() => {
      const m = performance.getEntriesByName('stock:filter');
      const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
      return [performance.timeOrigin, m.length ? m[0].startTime : null, at('app:script'), at('app:status')];
    });
    console.error(
      `  page load began ${(origin - startedAt).toFixed(0)} ms after the process start; bundle ran at +${script.toFixed(0)} ms, status in at +${status.toFixed(0)} ms, first stock query at +${query?.toFixed(0)} ms, rows at +${(shownAt - origin).toFixed(0)} ms`,
    );
    console.error(`start run ${run + 1}: ${(shownAt - startedAt).toFixed(0)} ms to rows (pid ${pid})`);
    if (run < startRuns - 1) {
      await browser.deleteSession();
      await sleep(1000);
      continue;
    }

    // Keystrokes, on the last launch: first from the keyboard (the figures), then through
    // WebDriver (for comparison with earlier runs).
    await instrument(browser);
    const input = await browser.$('#stock-search');
    await input.click();
    const samples = await typeOnTheKeyboard(browser);
    const driverSamples = await typeThroughWebDriver(browser, input);
    const pidNow = appPid();
    const appRss = rssKb(pidNow);
    const kids = children(pidNow).map((c) => ({ ...c, rss: rssKb(c.pid) }));
    await saveScreenshot(browser, path.join(process.env.BENCH_OUT ?? os.tmpdir(), 'bench-app-stock.png'));
    await sleep(1000);
    const frameTick = await frameMs(browser, '');
    const clippedFrame = await frameMs(browser, '.table { overflow: hidden; padding: 0 }');
    const web = kids.find((k) => k.name.startsWith('WebKitWebProces'));
    const cpuBefore = web ? cpuMs(web.pid) : NaN;
    const cpuFrame = await frameMs(browser, '', FRAMES_FOR_CPU);
    const frameCpu = web ? (cpuMs(web.pid) - cpuBefore) / FRAMES_FOR_CPU : NaN;
    await browser.deleteSession();

    fs.writeFileSync(path.join(process.env.BENCH_OUT ?? os.tmpdir(), 'keystrokes.json'), JSON.stringify({ keyboard: samples, webdriver: driverSamples }));
    // The raw baseline, on the same file, after the app closed (the raw query takes seconds at
    // this size: one round per text unless BENCH_RAW_ROUNDS says more).
    const texts = [...new Set([...samples, ...driverSamples].map((s) => s.text))];
    const raw = JSON.parse(
      execFileSync(seedBin, ['query', dataDir, process.env.BENCH_RAW_ROUNDS ?? '1', ...texts], {
        maxBuffer: 1 << 26,
      }).toString(),
    );
    const byText = new Map(raw.searches.map((s) => [s.search, s]));
    const rawMs = samples.map((s) => byText.get(s.text).raw_ms);
    const storeMs = samples.map((s) => byText.get(s.text).store_ms);
    const dom = samples.map((s) => s.dom);
    console.error(`keystrokes on the keyboard: ${breakdown(samples)}; store alone ${spread(storeMs)} ms`);
    console.error(`keystrokes through WebDriver: ${breakdown(driverSamples)}`);
    const firstKeys = samples.filter((s) => s.text.length === 1).map((s) => s.dom);
    const laterKeys = samples.filter((s) => s.text.length > 1).map((s) => s.dom);
    console.error(`on the keyboard, a search's first key ${spread(firstKeys)} ms, its later keys ${spread(laterKeys)} ms (p50 / p99)`);
    console.error(`${samples.length} keystrokes on the keyboard; slowest:`);
    for (const s of [...samples].sort((a, b) => b.dom - a.dom).slice(0, 5)) {
      const b = byText.get(s.text);
      console.error(
        `  ${JSON.stringify(s.text)}: ${s.dom.toFixed(1)} ms in the app; store ${b.store_ms.toFixed(1)} ms, raw ${b.raw_ms.toFixed(1)} ms; ${b.total} rows`,
      );
    }
    bench('app.filter_keystroke_p50', percentile(dom, 0.5), 'ms', percentile(rawMs, 0.5));
    bench('app.filter_keystroke_p99', percentile(dom, 0.99), 'ms', percentile(rawMs, 0.99));
    bench('app.filter_store_query_p99', percentile(storeMs, 0.99), 'ms', percentile(rawMs, 0.99));
    bench('app.filter_keystroke_p99_vs_target', percentile(dom, 0.99), 'ms', 16);
    const driverDom = driverSamples.map((s) => s.dom);
    const frame = driverSamples.map((s) => s.frame);
    bench('app.filter_keystroke_webdriver_p50', percentile(driverDom, 0.5), 'ms', percentile(dom, 0.5));
    bench('app.filter_keystroke_webdriver_p99', percentile(driverDom, 0.99), 'ms', percentile(dom, 0.99));
    bench('app.filter_keystroke_frame_p50', percentile(frame, 0.5), 'ms', 16);
    bench('app.filter_keystroke_frame_p99', percentile(frame, 0.99), 'ms', 16);
    bench('app.frame', frameTick, 'ms', clippedFrame, 1);
    bench('app.frame_cpu', frameCpu, 'ms', cpuFrame, 1);
    bench('app.start_to_rows', percentile(starts, 0.5), 'ms', 1000, 0);
    bench('app.rss', appRss / 1024, 'MiB', 150, 1);
    for (const k of kids) console.error(`  child ${k.pid} ${k.name}: ${(k.rss / 1024).toFixed(1)} MiB`);
    const total = appRss + kids.reduce((a, k) => a + k.rss, 0);
    bench('app.rss_with_webkit_children', total / 1024, 'MiB', 150, 1);
  }
  // The release profile keeps line tables (readable backtraces); baseline: the same binary
  // stripped (objcopy --strip-all), what a package would ship.
  const size = fs.statSync(appBin).size;
  const stripped = path.join(os.tmpdir(), `smartstock-stripped-${process.pid}`);
  execFileSync('objcopy', ['--strip-all', appBin, stripped]);
  const strippedSize = fs.statSync(stripped).size;
  fs.rmSync(stripped);
  bench('app.binary_size', size / 1048576, 'MiB', strippedSize / 1048576, 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
