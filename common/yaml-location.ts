/** Where things stand in a YAML source, for errors that name file, line and column. */
import { isMap, isSeq, type LineCounter, type Node as YamlNode } from 'yaml';

export interface YamlPosition {
  line: number;
  column: number;
}

/** The 1-based line and column of a source offset. */
export function yamlPosition(lineCounter: LineCounter, offset: number): YamlPosition {
  const p = lineCounter.linePos(offset);
  return { line: p.line, column: p.col };
}

/**
 * Position of the node at `path` (a validation error's path) in a parsed document's contents — of
 * its key for `atKey`, since an unknown key is the key's fault. Where the path leaves the document
 * (a missing key), the deepest node on it that exists; undefined when that node has no range.
 */
export function yamlPathPosition(contents: unknown, path: readonly string[], lineCounter: LineCounter, atKey = false): YamlPosition | undefined {
  let node = contents as YamlNode | null | undefined;
  let best = node;
  for (const [i, seg] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      best = (pair.key as YamlNode) ?? best;
      if (atKey && i === path.length - 1) break;
      node = pair.value as YamlNode | null;
      if (node) best = node;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)] as YamlNode | undefined;
      if (!node) break;
      best = node;
    } else break;
  }
  return best?.range ? yamlPosition(lineCounter, best.range[0]) : undefined;
}
