// Which desktop the app runs on, read synchronously from the web view before the first layout
// (main.ts marks <html data-os="…">, and app.css picks fonts by it). Nothing here decides a
// business rule: it only tunes presentation.

export type DesktopOs = 'linux' | 'mac' | 'windows' | 'other';

/** The desktop named by `navigator.platform`, or else by the user agent. */
export function desktopOs(platform: string, userAgent: string): DesktopOs {
  const named = `${platform} ${userAgent}`;
  if (/Win/.test(platform) || /Windows NT/.test(userAgent)) return 'windows';
  if (/Mac/.test(platform) || /Mac OS X|Macintosh/.test(userAgent)) return 'mac';
  if (/Linux|X11|FreeBSD|OpenBSD/.test(named) && !/Android/.test(named)) return 'linux';
  return 'other';
}
