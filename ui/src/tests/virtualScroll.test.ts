import { describe, expect, test } from 'vitest';
import { PageCache } from '../lib/pageCache';
import { scrollTopToShow, virtualWindow, type VirtualList } from '../lib/virtualScroll';

const list = (extra: Partial<VirtualList>): VirtualList => ({
  total: 1000,
  viewH: 396,
  scrollTop: 0,
  rowH: 36,
  headerH: 36,
  maxScrollArea: 8_000_000,
  overscan: 8,
  ...extra,
});

describe('virtual scroll geometry', () => {
  test('at the top it draws the rows in view and the overscan below', () => {
    const w = virtualWindow(list({}));
    expect(w.bodyH).toBe(360);
    expect([w.first, w.start, w.end]).toEqual([0, 0, 19]);
    expect(w.scrollAreaH).toBe(36_000);
    expect(w.factor).toBe(1);
    expect(w.blockTop).toBe(0);
  });

  test('scrolled, the drawn block starts overscan rows above the first row in view', () => {
    const w = virtualWindow(list({ scrollTop: 3600 + 10 }));
    expect([w.first, w.start]).toEqual([100, 92]);
    expect(w.blockTop).toBe(92 * 36);
  });

  test('an empty or tiny list draws what it has', () => {
    expect(virtualWindow(list({ total: 0 }))).toMatchObject({ first: 0, start: 0, end: 0, scrollAreaH: 0 });
    expect(virtualWindow(list({ total: 3 }))).toMatchObject({ first: 0, end: 3 });
  });

  test('past the tallest scroll area positions are scaled so the last row can be reached', () => {
    const total = 500_000;
    const top = virtualWindow(list({ total }));
    expect(top.scrollAreaH).toBe(8_000_000);
    expect(top.factor).toBeGreaterThan(2);
    const bottom = virtualWindow(list({ total, scrollTop: top.scrollAreaH - top.bodyH }));
    expect(bottom.end).toBe(total);
    expect(bottom.first).toBe(total - 10);
    // The drawn block stays inside the scroll area, just under the view's top.
    expect(bottom.blockTop).toBeLessThanOrEqual(bottom.scrollAreaH);
    expect(bottom.blockTop + (bottom.first - bottom.start) * 36).toBeCloseTo(top.scrollAreaH - top.bodyH, 0);
  });

  test('the drawn rows never reach past the scroll area, and cover the view', () => {
    // Nothing clips the rows (Stock.svelte): rows past the scroll area would make it taller.
    for (const total of [10, 1000, 222_222, 222_223, 300_000, 500_000]) {
      const top = virtualWindow(list({ total }));
      const maxTop = Math.max(0, top.scrollAreaH - top.bodyH);
      for (let i = 0; i <= 2000; i++) {
        const scrollTop = i < 1000 ? (maxTop * i) / 1000 : maxTop - (i - 1000) * 0.37;
        const w = virtualWindow(list({ total, scrollTop: Math.max(0, scrollTop) }));
        const bottom = w.blockTop + (w.end - w.start) * 36;
        expect(bottom).toBeLessThanOrEqual(w.scrollAreaH + 0.01);
        // Every row is drawn down to the view's last whole row, or the end of the list.
        const viewBottom = Math.max(0, scrollTop) + w.bodyH;
        expect(w.end === total || bottom >= Math.min(viewBottom, w.scrollAreaH) - 36).toBe(true);
        expect(w.blockTop).toBeLessThanOrEqual(Math.max(0, scrollTop) + 1e-6);
      }
    }
  });

  test('bringing a row into view scrolls the least, and not at all when it shows', () => {
    const w = virtualWindow(list({ scrollTop: 360 }));
    expect(scrollTopToShow(12, 36, w)).toBeNull();
    expect(scrollTopToShow(5, 36, w)).toBe(180);
    expect(scrollTopToShow(30, 36, w)).toBe(31 * 36 - 360);
    const scaled = virtualWindow(list({ total: 500_000 }));
    const to = scrollTopToShow(499_999, 36, scaled) ?? 0;
    expect(virtualWindow(list({ total: 500_000, scrollTop: to })).end).toBe(500_000);
  });
});

describe('page cache', () => {
  test('holds pages up to its bound, dropping the farthest from the view', () => {
    const cache = new PageCache<number>(10, 3);
    for (const page of [0, 1, 2]) cache.store(page, [page * 10], 0);
    // The view moved to page 3: page 0 is the farthest and goes.
    cache.store(3, [30], 3);
    expect([cache.row(0), cache.row(10), cache.row(20), cache.row(30)]).toEqual([undefined, 10, 20, 30]);
    expect(cache.wants(0)).toBe(true);
    // A page far from the view is dropped at once.
    cache.store(9, [90], 2);
    expect(cache.row(90)).toBeUndefined();
    expect(cache.row(30)).toBe(30);
  });

  test('a page on its way is not asked again, and a reset forgets what was on its way', () => {
    const cache = new PageCache<string>(100, 60);
    expect(cache.wants(0)).toBe(true);
    cache.asked(0);
    expect([cache.wants(0), cache.idle]).toEqual([false, false]);
    cache.reset('nothing');
    expect([cache.wants(0), cache.idle]).toEqual([true, true]);
  });

  test('a refresh keeps showing the previous rows until each page is answered again', () => {
    const cache = new PageCache<string>(2, 60);
    cache.store(0, ['a', 'b'], 0);
    cache.store(1, ['c', 'd'], 0);
    cache.reset('refresh');
    expect(cache.row(3)).toBe('d');
    expect(cache.wants(1)).toBe(true);
    cache.store(1, ['c', 'D'], 0);
    expect([cache.row(0), cache.row(3)]).toEqual(['a', 'D']);
    cache.reset('nothing');
    expect(cache.row(0)).toBeUndefined();
  });

  test('a new query shows the last rows until its first answer, then only its own', () => {
    const cache = new PageCache<string>(2, 60);
    cache.store(0, ['a', 'b'], 0);
    cache.store(1, ['c', 'd'], 0);
    cache.reset('until-answer');
    // Typed on before the answer: still the same rows on screen.
    cache.reset('until-answer');
    expect([cache.row(0), cache.row(3)]).toEqual(['a', 'd']);
    cache.store(0, ['x'], 0);
    expect([cache.row(0), cache.row(1), cache.row(3)]).toEqual(['x', undefined, undefined]);
  });
});
