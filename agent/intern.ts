/**
 * A bounded string intern pool: equal strings decoded from many events (exe paths, container ids)
 * share one copy instead of one per cached process. The pool forgets everything when it reaches
 * its bound: interning only saves memory, it never decides anything, so starting over is safe.
 */
export class Interner {
  private readonly pool = new Map<string, string>();

  constructor(private readonly maxEntries: number) {}

  intern(s: string): string {
    const known = this.pool.get(s);
    if (known !== undefined) return known;
    if (this.pool.size >= this.maxEntries) this.pool.clear();
    this.pool.set(s, s);
    return s;
  }
}
