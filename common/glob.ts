/**
 * Globs for argument patterns, path globs and selectors, matched in linear-bounded time.
 */

/** A compiled glob: `*` = any run of characters (newlines included), `?` = one UTF-16 code unit. */
export interface Glob {
  readonly source: string;
  test(text: string): boolean;
}

/**
 * Compiles a glob for argument patterns, path globs and selectors (`**` is the same as `*`: paths
 * are matched as plain strings). Globs come from declared-baseline YAML and from API callers, so
 * matching must not be a RegExp: `*a*a*a…b` backtracks exponentially there. This matcher is
 * O(pattern × text) at worst.
 */
export function compileGlob(source: string): Glob {
  // A run of `*` matches what one `*` matches; collapsing it keeps the backtrack point unique.
  const pattern = source.replace(/\*+/g, '*');
  if (!isGlob(pattern)) return { source, test: (text) => text === pattern };
  return { source, test: (text) => matchGlob(pattern, text) };
}

const STAR = 42;
const QUESTION = 63;

/**
 * Two-pointer wildcard matching. On a mismatch only the most recent `*` absorbs one more character
 * (earlier stars never need to: whatever they could absorb, the latest one can too), so the work
 * is bounded by pattern length × text length.
 */
function matchGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    const c = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
      starText = t;
    } else if (c === QUESTION || (c !== -1 && c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++starText;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

export function isGlob(text: string): boolean {
  return /[*?]/.test(text);
}

// ---------------------------------------------------------------------------------------------
