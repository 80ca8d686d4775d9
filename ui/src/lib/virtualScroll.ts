// Geometry of a virtualized list of fixed-height rows: which rows to draw for a scroll position,
// and where. Browsers cap an element's height (WebKit near 2^25 px), so past `maxScrollArea` px the
// scroll area stays that tall and scroll positions are scaled onto the rows. Pure arithmetic:
// no DOM, no Svelte.

export interface VirtualList {
  /** Rows in the list. */
  total: number;
  /** Height of the scrolling element in px (0 before it is measured). */
  viewH: number;
  /** The scrolling element's `scrollTop`. */
  scrollTop: number;
  rowH: number;
  /** A sticky header inside the scroller, above the rows. */
  headerH: number;
  /** Tallest scroll area used, in px. */
  maxScrollArea: number;
  /** Rows drawn beyond each edge of the view. */
  overscan: number;
}

export interface VirtualWindow {
  /** Height the rows are shown in. */
  bodyH: number;
  /** Height of the scroll area below the header. */
  scrollAreaH: number;
  /** Virtual px per scrolled px (1 unless the list is taller than `maxScrollArea`). */
  factor: number;
  /** The scroll position in the full list's px. */
  virtualTop: number;
  /** The first row in view. */
  first: number;
  /** Rows `[start, end)` are drawn. */
  start: number;
  end: number;
  /** Offset of row `start` in the scroll area, in px; the drawn rows end within `scrollAreaH`. */
  blockTop: number;
}

/** Measured height used until the view has one. */
const UNMEASURED_VIEW_H = 600;

/** The rows to draw for a scroll position, and where to draw them. */
export function virtualWindow(list: VirtualList): VirtualWindow {
  const { total, rowH, overscan } = list;
  const bodyH = Math.max(rowH, (list.viewH > 0 ? list.viewH : UNMEASURED_VIEW_H) - list.headerH);
  const contentH = total * rowH;
  const scrollAreaH = Math.min(contentH, list.maxScrollArea);
  const factor = scrollAreaH > bodyH ? (contentH - bodyH) / (scrollAreaH - bodyH) : 1;
  const virtualTop = list.scrollTop * factor;
  const first = Math.min(Math.max(0, Math.floor(virtualTop / rowH)), Math.max(0, total - 1));
  const start = Math.max(0, first - overscan);
  const blockTop = list.scrollTop - (virtualTop - first * rowH) - (first - start) * rowH;
  // In a scaled list the rows below the view are drawn a whole row apart while less scroll area
  // is left below it: the rows that would reach past the scroll area are not drawn (nothing
  // clips them, and they would make the area taller).
  const fitting = Math.floor((scrollAreaH - blockTop) / rowH + 1e-6);
  const inView = first + Math.ceil(bodyH / rowH) + 1 + overscan;
  const end = Math.min(total, inView, start + Math.max(0, fitting));
  return { bodyH, scrollAreaH, factor, virtualTop, first, start, end, blockTop };
}

/**
 * The `scrollTop` that brings row `index` fully into view with the least movement, or `null`
 * when it is in view already.
 */
export function scrollTopToShow(index: number, rowH: number, view: VirtualWindow): number | null {
  const top = index * rowH;
  if (top < view.virtualTop) return top / view.factor;
  if (top + rowH > view.virtualTop + view.bodyH) return (top + rowH - view.bodyH) / view.factor;
  return null;
}
