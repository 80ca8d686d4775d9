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
