import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { storeContract } from './store-contract.ts';

const folder = mkdtempSync(path.join(os.tmpdir(), 'smoke-contract-'));
after(() => rmSync(folder, { recursive: true, force: true }));
let count = 0;

storeContract('sqlite', {
  // A file in a folder not made yet: the store creates it.
  fresh: async () => ({ kind: 'sqlite', file: path.join(folder, String(++count), 'smoke.db') }),
  raw: async (location, statements) => {
    if (location.kind !== 'sqlite') throw new Error('a SQLite location');
    const db = new Database(location.file);
    try {
      db.exec(statements);
    } finally {
      db.close();
    }
  },
});
