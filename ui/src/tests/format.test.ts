import { describe, expect, test } from 'vitest';
import { formatCount, formatQty, parseQty } from '../lib/format';

describe('quantities in base units', () => {
  test('format by the unit scale', () => {
    expect(formatQty(12345, 2)).toBe('123.45');
    expect(formatQty(5, 2)).toBe('0.05');
    expect(formatQty(-5, 1)).toBe('-0.5');
    expect(formatQty(-42, 0)).toBe('-42');
    expect(formatQty(1000, 3)).toBe('1.000');
  });

  test('parse decimals into integers without floating point error', () => {
    expect(parseQty('1.5', 2)).toEqual({ ok: true, value: 150 });
    expect(parseQty('0.29', 2)).toEqual({ ok: true, value: 29 });
    expect(parseQty('2,25', 3)).toEqual({ ok: true, value: 2250 });
    expect(parseQty('7', 0)).toEqual({ ok: true, value: 7 });
    expect(parseQty('-3', 0, true)).toEqual({ ok: true, value: -3 });
    expect(parseQty('+3', 1, true)).toEqual({ ok: true, value: 30 });
  });

  test('refuse what the unit cannot hold', () => {
    expect(parseQty('1.5', 0).ok).toBe(false);
    expect(parseQty('1.555', 2).ok).toBe(false);
    expect(parseQty('-3', 0).ok).toBe(false);
    expect(parseQty('abc', 0).ok).toBe(false);
    expect(parseQty('', 0).ok).toBe(false);
    expect(parseQty('.', 2).ok).toBe(false);
  });
});

describe('counts', () => {
  test('are grouped by thousands with the marks the quantities use', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(6983)).toBe('6,983');
    expect(formatCount(500000)).toBe('500,000');
    expect(formatCount(-1200)).toBe('-1,200');
  });
});
