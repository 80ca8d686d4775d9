// One way to open the real desktop app under tauri-driver + WebKitWebDriver, shared by the
// end-to-end tests (app.test.mjs), the self-update test (tests/update) and the app benchmark
// (tests/bench-app): WebDriver classic, no browserName, and session creation retried because
// the driver accepts connections before WebKitWebDriver is ready.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { remote } = require('webdriverio');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `application` with `args` through the driver on `port` and returns the session once it
 * exists (and, given `readySelector`, once that element is in the page).
 */
export async function openAppSession({ port, application, args = [], readySelector = null, attempts = 30 }) {
  let lastError;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const browser = await remote({
        hostname: '127.0.0.1',
        port: Number(port),
        logLevel: 'error',
        connectionRetryCount: 0,
        capabilities: {
          'wdio:enforceWebDriverClassic': true,
          'tauri:options': { application, args },
        },
      });
      if (readySelector) {
        try {
          await browser.$(readySelector).waitForExist({ timeout: 30000 });
        } catch (e) {
          await browser.deleteSession().catch(() => {});
          throw e;
        }
      }
      return browser;
    } catch (e) {
      lastError = e;
      await sleep(1000);
    }
  }
  throw lastError;
}

/**
 * Saves a screenshot of the app's window to `file`. Without a GPU the app turns WebKit's
 * compositing off (src-tauri/lib.rs), and then WebKit's snapshot (what WebDriver's screenshot
 * uses) waits for the page's next rendering update, which an idle page never has: the snapshot
 * hung until WebDriver's timeout. So a 1px element is toggled each frame until it is taken.
 */
export async function saveScreenshot(browser, file) {
  await browser.execute(() => {
    const w = /** @type {any} */ (window);
    if (w.__shotTicker) return;
    const dot = document.createElement('div');
    dot.setAttribute('aria-hidden', 'true');
    dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none';
    document.body.append(dot);
    let on = false;
    const step = () => {
      if (!w.__shotTicker) return;
      on = !on;
      dot.style.opacity = on ? '0.01' : '0';
      requestAnimationFrame(step);
    };
    w.__shotTicker = dot;
    requestAnimationFrame(step);
  });
  try {
    await browser.saveScreenshot(file);
  } finally {
    await browser.execute(() => {
      const w = /** @type {any} */ (window);
      w.__shotTicker?.remove();
      w.__shotTicker = null;
    });
  }
}
