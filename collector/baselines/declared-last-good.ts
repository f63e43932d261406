/**
 * The last good text of each declared-baseline file, in memory and persisted through the store,
 * so that "the last good version stays in force" holds across restarts: a file that is broken,
 * unreadable or empty when the collector starts (or is recreated empty while it runs) keeps the
 * content it last loaded with. Keyed by the file's name in the baselines directory.
 */
import type { DeclaredLastGoodRepository } from '../store/contract.js';

export interface LastGood {
  text: string;
  savedAt: string;
}

export class LastGoodMemory {
  private readonly texts = new Map<string, LastGood>();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: DeclaredLastGoodRepository | undefined,
    private readonly onSaveError: (file: string, err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads what the store kept (before the first reload). */
  async load(): Promise<void> {
    if (!this.store) return;
    for (const f of await this.store.all()) this.texts.set(f.file, { text: f.text, savedAt: f.savedAt });
  }

  get(file: string): LastGood | undefined {
    return this.texts.get(file);
  }

  /** A file loaded without an error: its text is the new last good one (saved in order, in the background). */
  remember(file: string, text: string): void {
    if (this.texts.get(file)?.text === text) return;
    const entry = { text, savedAt: new Date(this.now()).toISOString() };
    this.texts.set(file, entry);
    const store = this.store;
    if (!store) return;
    this.saving = this.saving.then(() => store.save({ file, ...entry }).catch((err: unknown) => this.onSaveError(file, err)));
  }

  /** Resolves when every remembered text has been saved (or its failure reported). */
  saved(): Promise<void> {
    return this.saving;
  }
}
