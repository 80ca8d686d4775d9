// Pages of a long list fetched on demand, kept up to a bound (the pages farthest from the view go
// first), with the previous answers kept on screen while new ones are on their way (no flash of
// empty rows at each keystroke). Plain maps on purpose: 500k rows must not become reactive
// proxies; the screen tracks a version number instead. No fetching here: the screen asks and
// stores.

/**
 * What stays on screen when the list starts over: nothing; the same query's rows, each until
 * its page is answered again (a refresh); or another query's rows, until its first answer.
 */
export type KeepShowing = 'nothing' | 'refresh' | 'until-answer';

export class PageCache<Row> {
  private pages = new Map<number, Row[]>();
  private stale = new Map<number, Row[]>();
  private inflight = new Set<number>();
  /** The stale rows are another query's: the first answer replaces them all. */
  private staleUntilAnswer = false;

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
    if (this.staleUntilAnswer) {
      this.stale = new Map();
      this.staleUntilAnswer = false;
    }
    this.stale.delete(page);
    if (this.pages.size <= this.maxPages) return;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - centrePage) - Math.abs(a - centrePage));
    for (const p of far.slice(0, this.pages.size - this.maxPages)) this.pages.delete(p);
  }

  /** Starts over (a new query, or the same one refreshed), keeping on screen what `keep` says. */
  reset(keep: KeepShowing) {
    // What is on screen now: this query's pages, or else the rows still kept from before.
    this.stale = keep === 'nothing' ? new Map() : new Map([...this.stale, ...this.pages]);
    if (keep !== 'refresh') this.staleUntilAnswer = keep === 'until-answer';
    this.pages = new Map();
    this.inflight.clear();
  }
}
