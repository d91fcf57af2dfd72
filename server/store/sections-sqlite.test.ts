import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { openStore } from './open.ts';
import { sectionsContract } from './sections-contract.ts';

/** The side tables' contract on SQLite: a new file per test, and as many connections to it as the test opens. */
let folder: string;
let file: string;
let tests = 0;
before(() => {
  folder = mkdtempSync(path.join(os.tmpdir(), 'smoke-sections-'));
});
beforeEach(() => {
  file = path.join(folder, `test-${++tests}.db`);
});
after(() => rmSync(folder, { recursive: true, force: true }));

sectionsContract('sqlite', () => openStore({ kind: 'sqlite', file }));
