// Quantities are integers in a product's base unit with `unit_scale` decimal places
// (DESIGN.md): 1250 with scale 2 is 12.50. These helpers show and read them without floats.

/** `12345, 2` → `"123.45"`; `-5, 1` → `"-0.5"`. */
export function formatQty(base: number, scale: number): string {
  const negative = base < 0;
  const digits = Math.abs(Math.trunc(base)).toString();
  if (scale <= 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  const whole = padded.slice(0, padded.length - scale);
  const frac = padded.slice(padded.length - scale);
  return (negative ? '-' : '') + whole + '.' + frac;
}

/**
 * A count of rows or movements, grouped by thousands: `500000` → `"500,000"` (the same marks as
 * the quantities: `.` for decimals, so `,` groups).
 */
export function formatCount(n: number): string {
  return COUNT.format(n);
}

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A quantity with its unit: `"12.50 kg"`. */
export function formatQtyUnit(base: number, scale: number, unit: string): string {
  return unit ? `${formatQty(base, scale)} ${unit}` : formatQty(base, scale);
}

/** A signed change: `"+3"`, `"-2.5"`. */
export function formatDelta(base: number, scale: number): string {
  return (base > 0 ? '+' : '') + formatQty(base, scale);
}

export type Parsed = { ok: true; value: number } | { ok: false; message: string };

/**
 * Reads a typed quantity into base units: `"12.5"` with scale 2 → 1250. Accepts `.` or `,` as
 * the decimal mark; refuses more decimals than the unit has. `signed` allows a leading + or -.
 */
export function parseQty(text: string, scale: number, signed = false): Parsed {
  const t = text.trim().replace(',', '.');
  if (t === '') return { ok: false, message: 'Enter a quantity' };
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return { ok: false, message: `"${text.trim()}" is not a number` };
  const sign = m[1] === '-' ? -1 : 1;
  if (m[1] && !signed) return { ok: false, message: 'Enter the quantity without a sign' };
  const whole = m[2] ?? '';
  const frac = m[3] ?? '';
  if (frac.length > scale) {
    return {
      ok: false,
      message: scale === 0 ? 'This product is counted in whole units' : `At most ${scale} decimal places for this product`,
    };
  }
  const digits = (whole + frac.padEnd(scale, '0')).replace(/^0+(?=\d)/, '');
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) return { ok: false, message: 'That quantity is too large' };
  return { ok: true, value: sign * value };
}

const pad = (n: number) => n.toString().padStart(2, '0');

/** `2026-11-22 14:05` in local time. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `2026-11-22` in local time. */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `just now`, `5 min ago`, `3 h ago`, else the date and time. */
export function formatAgo(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return formatTime(ms);
}

/** A movement kind or reason code for people: `transfer_out` → `Transfer out`. */
export function humanize(code: string): string {
  const t = code.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** Local midnight of a `yyyy-mm-dd` date input, in ms; `null` when empty or invalid. */
export function dateInputToMs(value: string, endOfDay = false): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (endOfDay ? 1 : 0));
  return d.getTime();
}
