// Pages of a long list fetched on demand, kept up to a bound (the pages farthest from the view go
// first), with the previous answers of the same query kept to show while a refresh is on its way
// (no flicker). Plain maps on purpose: 500k rows must not become reactive proxies; the screen
// tracks a version number instead. No fetching here: the screen asks and stores.

export class PageCache<Row> {
  private pages = new Map<number, Row[]>();
  private stale = new Map<number, Row[]>();
  private inflight = new Set<number>();

  constructor(
    /** Rows per page. */
    readonly pageSize: number,
    /** Pages kept at most. */
    readonly maxPages: number,
  ) {}

  /** The page holding row `index`. */
  pageOf(index: number): number {
    return Math.floor(index / this.pageSize);
  }

  /** Row `index` from this query's pages, or else the previous answer's, if either has it. */
  row(index: number): Row | undefined {
    const page = this.pageOf(index);
    return (this.pages.get(page) ?? this.stale.get(page))?.[index % this.pageSize];
  }

  /** True when the page is neither held nor on its way: the caller should fetch it. */
  wants(page: number): boolean {
    return !this.inflight.has(page) && !this.pages.has(page);
  }

  asked(page: number) {
    this.inflight.add(page);
  }

  answered(page: number) {
    this.inflight.delete(page);
  }

  /** True while no page is on its way. */
  get idle(): boolean {
    return this.inflight.size === 0;
  }

  /** Keeps a page's rows, dropping the farthest pages from `centrePage` above the bound. */
  store(page: number, rows: Row[], centrePage: number) {
    this.pages.set(page, rows);
    this.stale.delete(page);
    if (this.pages.size <= this.maxPages) return;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - centrePage) - Math.abs(a - centrePage));
    for (const p of far.slice(0, this.pages.size - this.maxPages)) this.pages.delete(p);
  }

  /**
   * Starts over for a new query. With `keepShowing` the current rows stay on screen as stale
   * until their page's new answer arrives.
   */
  reset(keepShowing: boolean) {
    this.stale = keepShowing ? this.pages : new Map();
    this.pages = new Map();
    this.inflight.clear();
  }
}
