import type { DeclaredLastGoodRepository, LastGoodFile } from './contract.js';
import type { SqlExecutor } from './sql.js';

/** The last good text of each declared-baseline file (collector/baselines/declared.ts). */
export class SqlDeclaredLastGood implements DeclaredLastGoodRepository {
  constructor(private readonly db: SqlExecutor) {}

  async all(): Promise<LastGoodFile[]> {
    return (await this.db.all<{ file: string; text: string; saved_at: string }>('SELECT file, text, saved_at FROM declared_last_good ORDER BY file')).map((r) => ({
      file: r.file,
      text: r.text,
      savedAt: r.saved_at,
    }));
  }

  async save(f: LastGoodFile): Promise<void> {
    await this.db.run(
      `INSERT INTO declared_last_good (file, text, saved_at) VALUES (@file, @text, @at)
       ON CONFLICT (file) DO UPDATE SET text = @text, saved_at = @at`,
      { file: f.file, text: f.text, at: f.savedAt },
    );
  }
}
