import { describe, expect, test } from 'vitest';
import { desktopOs } from '../lib/platform';

describe('desktop detection', () => {
  test.each([
    ['Linux x86_64', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/60.5 Safari/605.1.15', 'linux'],
    ['', 'Mozilla/5.0 (X11; Linux aarch64) AppleWebKit/605.1.15', 'linux'],
    ['MacIntel', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', 'mac'],
    ['Win32', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Edg/120.0', 'windows'],
    ['Linux armv8l', 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36', 'other'],
    ['', '', 'other'],
  ] as const)('%s / %s is %s', (platform, userAgent, os) => {
    expect(desktopOs(platform, userAgent)).toBe(os);
  });
});
