/**
 * src/files.ts: a private view of a judged file is made where the caller says, and a folder it
 * cannot be made in is the contract's FileRefused (-32022), never a raw file-system error that the
 * dispatcher would answer as -32603.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openJudged, privateView } from '../../src/files.js';
import { RpcError } from '../../src/errors.js';
import { tempDir } from '../helpers/unit-store.js';

describe('files: private views', () => {
  it('a view is made in the work folder given, holds the same bytes, and is gone once disposed', () => {
    const src = tempDir();
    const work = tempDir();
    try {
      const file = join(src.dir, 'data_1.db');
      writeFileSync(file, 'SQLite format 3\0 and the rest');
      const h = openJudged(file, 'data_1.db');
      try {
        const v = privateView(h, work.dir, 'data_1.db');
        expect(v.path.startsWith(work.dir)).to.equal(true);
        expect(readFileSync(v.path, 'utf8')).to.equal('SQLite format 3\0 and the rest');
        expect(readdirSync(src.dir)).to.deep.equal(['data_1.db']);
        v.dispose();
        expect(existsSync(v.path)).to.equal(false);
        expect(readdirSync(work.dir)).to.deep.equal([]);
      } finally {
        h.close();
      }
    } finally {
      src.cleanup();
      work.cleanup();
    }
  });

  it('a work folder the view cannot be made in is FileRefused naming it, not a raw error', () => {
    const src = tempDir();
    try {
      const file = join(src.dir, 'data_1.db');
      writeFileSync(file, 'x');
      const notAFolder = join(src.dir, 'plain-file');
      writeFileSync(notAFolder, '');
      const h = openJudged(file, 'data_1.db');
      try {
        for (const work of [join(src.dir, 'missing', 'deeper'), notAFolder]) {
          let err: unknown;
          try {
            privateView(h, work, 'data_1.db');
          } catch (e) {
            err = e;
          }
          expect(err, work).to.be.instanceOf(RpcError);
          expect((err as RpcError).code).to.equal(-32022);
          expect(JSON.stringify((err as RpcError).data)).to.include(work);
        }
      } finally {
        h.close();
      }
    } finally {
      src.cleanup();
    }
  });
});
