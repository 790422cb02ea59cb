/**
 * The file rule (src/files.ts), tried as an attacker would through the real process: every method
 * that takes a path is pointed at the store's own files, at FIFOs, devices, symlinks, folders, hard
 * links, foreign files, bad names and hostile zips. Nothing of the library may be lost, the process
 * may never die or hang, and every refusal is -32022 {path, reason} or -32602 at /path.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { makeSong } from '../helpers/fixtures.js';
import { StoreProcess } from '../helpers/process.js';
import { fails, ok, Procs, stop } from '../helpers/rpc.js';
import { sha256File, sqlite3 } from '../helpers/check.js';

const FILE_REFUSED = -32022;
const INVALID_PARAMS = -32602;

const mkfifo = (path: string): void => {
  execFileSync('mkfifo', [path]);
};

/** A request that must be answered within `ms`: a hang fails the test instead of stalling it. */
async function answered(p: StoreProcess, method: string, params: unknown, ms = 10_000): Promise<{ result?: any; error?: any }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${method} ${JSON.stringify(params)} was not answered within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([p.request(method, params), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function refusedWith(p: StoreProcess, method: string, params: Record<string, unknown>, reason: string): Promise<void> {
  const e = await fails(p, method, params, FILE_REFUSED);
  expect(e.data, `${method} ${JSON.stringify(params)}: ${e.message}`).to.deep.include({ path: params.path, reason });
  expect(e.message).to.include('nothing was changed');
}

describe('adversarial: the file rule (export, import and backup paths)', function () {
  this.timeout(60_000);
  const procs = new Procs();
  let p: StoreProcess;
  let songIds: string[];
  let outside: string;

  /** The library is intact: every song is there, the database checks clean, the process serves. */
  async function intact(): Promise<void> {
    expect((await ok(p, 'songs.count', {})).count).to.equal(songIds.length);
    for (const id of songIds) await ok(p, 'songs.get', { id });
    expect(p.child.exitCode).to.equal(null);
  }

  beforeEach(async () => {
    p = await procs.launch();
    songIds = [];
    for (let i = 0; i < 3; i++) songIds.push((await ok(p, 'songs.create', { item: makeSong({ name: `Song ${i}` }) })).id);
    outside = procs.ownDir('wr-outside-');
  });
  afterEach(() => procs.cleanupAll());

  describe('writes (export.songs, export.full)', () => {
    it('refuses ../data.db, the call that used to replace the live database, and the library survives a restart', async () => {
      for (const method of ['export.songs', 'export.full']) {
        await refusedWith(p, method, { path: '../data.db' }, 'outside');
        await refusedWith(p, method, { path: '../data.db-wal' }, 'outside');
        await refusedWith(p, method, { path: '../backups/x.json' }, 'outside');
      }
      await intact();
      const d = p.dataDir;
      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(join(d, 'data.db'), 'SELECT count(*) FROM songs')).to.equal('3');
      p = await procs.launch({ dataDir: d });
      await intact();
    });

    it('refuses every file of the store by absolute path: database, -wal, -shm, lock, pid, a backup, a log', async () => {
      const backup = await ok(p, 'backup.create', {});
      const d = p.dataDir;
      const targets = ['data.db', 'data.db-wal', 'data.db-shm', 'data.db-journal', 'whiteroom-store.lock', 'whiteroom-store.pid', 'new.json'].map((n) => join(d, n));
      targets.push(backup.path, join(d, 'backups', 'new.zip'), join(d, 'logs', 'persistence.log'));
      const before = sha256File(backup.path);
      for (const path of targets) {
        for (const method of ['export.songs', 'export.full']) await refusedWith(p, method, { path }, 'protected');
      }
      expect(sha256File(backup.path)).to.equal(before);
      expect(existsSync(join(d, 'new.json'))).to.equal(false);
      expect(existsSync(join(d, 'data.db-journal'))).to.equal(false);
      await intact();
      expect((await ok(p, 'backup.verify', { path: backup.name })).ok).to.equal(true);
    });

    it('refuses a hard link to the database placed in exports/ or elsewhere (judged by identity, not by name)', async () => {
      const d = p.dataDir;
      linkSync(join(d, 'data.db'), join(d, 'exports', 'innocent.json'));
      linkSync(join(d, 'data.db'), join(outside, 'innocent.zip'));
      await refusedWith(p, 'export.songs', { path: 'innocent.json' }, 'protected');
      await refusedWith(p, 'export.full', { path: join(outside, 'innocent.zip') }, 'protected');
      await intact();
    });

    it('never writes through a symlink, and never follows one out of exports/', async () => {
      const d = p.dataDir;
      const victim = join(outside, 'victim.txt');
      writeFileSync(victim, 'precious');
      symlinkSync(victim, join(outside, 'link.json'));
      symlinkSync(join(d, 'data.db'), join(d, 'exports', 'db.json'));
      symlinkSync(outside, join(d, 'exports', 'out'));
      await refusedWith(p, 'export.songs', { path: join(outside, 'link.json') }, 'symlink');
      await refusedWith(p, 'export.songs', { path: 'db.json' }, 'symlink');
      await refusedWith(p, 'export.songs', { path: 'out/escaped.json' }, 'outside');
      await refusedWith(p, 'export.full', { path: 'out/escaped.zip' }, 'outside');
      expect(readFileSync(victim, 'utf8')).to.equal('precious');
      expect(readdirSync(outside).sort()).to.deep.equal(['link.json', 'victim.txt']);
      await intact();
    });

    it('refuses a FIFO, a device and a folder as a target, without hanging', async () => {
      const fifo = join(outside, 'pipe.json');
      mkfifo(fifo);
      for (const method of ['export.songs', 'export.full']) {
        const a = await answered(p, method, { path: fifo });
        expect(a.error?.code, JSON.stringify(a)).to.equal(FILE_REFUSED);
        expect(a.error.data.reason).to.equal('not-a-file');
        await refusedWith(p, method, { path: '/dev/null' }, 'not-a-file');
        mkdirSync(join(outside, 'folder.json'), { recursive: true });
        await refusedWith(p, method, { path: join(outside, 'folder.json') }, 'not-a-file');
      }
      await intact();
    });

    it('refuses to replace a file that is not an export of the same kind, and replaces its own export', async () => {
      const foreign = join(outside, 'notes.json');
      writeFileSync(foreign, '{"mine": true}');
      await refusedWith(p, 'export.songs', { path: foreign }, 'exists');
      expect(readFileSync(foreign, 'utf8')).to.equal('{"mine": true}');
      const songsFile = join(outside, 'songs.json');
      await ok(p, 'export.songs', { path: songsFile });
      await ok(p, 'songs.create', { item: makeSong({ name: 'Later' }) });
      expect((await ok(p, 'export.songs', { path: songsFile })).songs).to.equal(4);
      // A songs export is not a zip: export.full does not replace it, nor the other way round.
      await refusedWith(p, 'export.full', { path: songsFile }, 'exists');
      const zip = join(outside, 'all.zip');
      await ok(p, 'export.full', { path: zip });
      await ok(p, 'export.full', { path: zip });
      await refusedWith(p, 'export.songs', { path: zip }, 'exists');
    });

    it('two export.full without a path in the same second get two names, both whole', async () => {
      const [a, b] = await Promise.all([p.request('export.full', {}), p.request('export.full', {})]);
      expect(a.error, JSON.stringify(a.error)).to.equal(undefined);
      expect(b.error, JSON.stringify(b.error)).to.equal(undefined);
      expect(a.result.path).to.not.equal(b.result.path);
      for (const r of [a, b]) expect(statSync(r.result.path).size).to.equal(r.result.sizeBytes);
    });

    it('answers a missing folder, a NUL byte, a control character, an over-long name, "..", a folder path: never dies', async () => {
      for (const method of ['export.songs', 'export.full']) {
        await refusedWith(p, method, { path: join(outside, 'missing', 'x.json') }, 'no-folder');
        await refusedWith(p, method, { path: 'missing/x.json' }, 'no-folder');
        for (const path of ['a\u0000b.json', 'a\nb.json', `${'n'.repeat(256)}.json`, join(outside, `${'é'.repeat(128)}.json`), '', '..', '.', 'sub/', '/']) {
          const a = await answered(p, method, { path });
          expect(a.error?.code, `${method} ${JSON.stringify(path)}: ${JSON.stringify(a)}`).to.be.oneOf([INVALID_PARAMS, FILE_REFUSED]);
          if (a.error.code === INVALID_PARAMS) expect(a.error.data.errors[0].path).to.equal('/path');
        }
      }
      await intact();
      expect(readdirSync(join(p.dataDir, 'exports'))).to.deep.equal([]);
      expect(readdirSync(p.dataDir).filter((n) => n.startsWith('.'))).to.deep.equal([]);
    });
  });

  describe('reads (import.songs, import.full, backup.verify, backup.restore)', () => {
    it('refuses a FIFO, a device, a folder and a socket path at once, without hanging', async () => {
      const fifo = join(outside, 'pipe');
      mkfifo(fifo);
      for (const method of ['import.songs', 'import.full', 'backup.verify', 'backup.restore']) {
        const extra = method === 'import.songs' ? { onConflict: 'skip' } : {};
        for (const path of [fifo, '/dev/zero', '/dev/null', outside]) {
          const a = await answered(p, method, { path, ...extra });
          expect(a.error?.code, `${method} ${path}: ${JSON.stringify(a)}`).to.equal(FILE_REFUSED);
          expect(a.error.data.reason).to.equal('not-a-file');
        }
      }
      await intact();
    });

    it('a missing file is FileRefused (not-found), not "no record with id"', async () => {
      for (const method of ['import.songs', 'import.full', 'backup.verify', 'backup.restore']) {
        const extra = method === 'import.songs' ? { onConflict: 'skip' } : {};
        await refusedWith(p, method, { path: join(outside, 'missing'), ...extra }, 'not-found');
      }
    });

    it('a relative path does not leave its folder (.. or a symlink)', async () => {
      const d = p.dataDir;
      const exported = await ok(p, 'export.songs', { path: join(outside, 'songs.json') });
      symlinkSync(exported.path, join(d, 'exports', 'linked.json'));
      await refusedWith(p, 'import.songs', { path: 'linked.json', onConflict: 'skip' }, 'outside');
      await refusedWith(p, 'import.songs', { path: '../exports/../../x.json', onConflict: 'skip' }, 'outside');
      await refusedWith(p, 'backup.verify', { path: '../data.db' }, 'outside');
      await refusedWith(p, 'backup.restore', { path: '../data.db' }, 'outside');
      // The same file by its absolute path is the user's choice: it is read.
      expect((await ok(p, 'import.songs', { path: exported.path, onConflict: 'skip' })).skipped).to.be.a('number');
    });

    it('refuses to read the live database as a backup or an import', async () => {
      const d = p.dataDir;
      await refusedWith(p, 'backup.verify', { path: join(d, 'data.db') }, 'protected');
      await refusedWith(p, 'backup.restore', { path: join(d, 'data.db') }, 'protected');
      await refusedWith(p, 'import.full', { path: join(d, 'data.db') }, 'protected');
      await intact();
    });

    it('a FIFO named like a backup in backups/ holds nothing up: list (as damaged), stats, prune, verify and the automatic backup answer', async () => {
      const good = await ok(p, 'backup.create', {});
      mkfifo(join(p.dataDir, 'backups', 'data_2001-01-01_000000.db'));
      const list = await answered(p, 'backup.list', {});
      expect(list.result.items.map((b: any) => [b.name, b.damaged ?? false])).to.deep.equal([
        [good.name, false],
        ['data_2001-01-01_000000.db', true],
      ]);
      expect(list.result.items[1].reason).to.match(/not a regular file/);
      const stats = (await answered(p, 'system.stats', {})).result;
      expect(stats.lastBackup.name).to.equal(good.name);
      expect((await answered(p, 'backup.prune', { keep: 0, kind: 'unknown' })).result).to.deep.include({ deleted: [], kept: 0, damaged: ['data_2001-01-01_000000.db'] });
      const v = await answered(p, 'backup.verify', { path: 'data_2001-01-01_000000.db' });
      expect(v.error?.data?.reason).to.equal('not-a-file');
      const d = p.dataDir;
      await stop(p);
      // The automatic backup at start reads backups/ too.
      p = await procs.launch({ dataDir: d, args: ['--auto-backup-hours', '0.0001'] });
      await new Promise((r) => setTimeout(r, 2500));
      expect((await answered(p, 'system.ping', {})).result).to.not.equal(undefined);
      await intact();
    });

    it('recovery at start passes over a FIFO named like the newest backup and restores the good one', async () => {
      const good = await ok(p, 'backup.create', {});
      const d = p.dataDir;
      await stop(p);
      mkfifo(join(d, 'backups', 'data_2999-01-01_000000.db'));
      writeFileSync(join(d, 'data.db'), Buffer.alloc(8192, 0x5a)); // damaged beyond reading
      p = await procs.launch({ dataDir: d });
      const info = await answered(p, 'system.info', {});
      expect(info.result.recovery.restoredFrom).to.equal(good.path);
      await intact();
    });

    it('a file swapped for a FIFO (and back) over and over while it is verified and imported: every call is answered', async function () {
      const backup = await ok(p, 'backup.create', {});
      const exported = await ok(p, 'export.songs', { path: join(outside, 'songs.json') });
      const target = join(outside, 'target');
      mkfifo(join(outside, 'fifo'));
      // Another process renames a good file and a FIFO in and out of `target` as fast as it can.
      const swapper = spawn(
        'python3',
        [
          '-c',
          `import os, shutil, sys
good, songs, fifo, t = sys.argv[1:5]
shutil.copy(good, t + '.db'); shutil.copy(songs, t + '.json')
while True:
    for src in (t + '.db', fifo, t + '.json', fifo):
        try:
            os.rename(src, t); os.rename(t, src)
        except OSError:
            pass`,
          backup.path,
          exported.path,
          join(outside, 'fifo'),
          target,
        ],
        { stdio: 'ignore' },
      );
      try {
        const seen = new Set<string>();
        for (let i = 0; i < 60; i++) {
          for (const [method, params] of [
            ['backup.verify', { path: target }],
            ['import.songs', { path: target, onConflict: 'skip' }],
          ] as const) {
            const a = await answered(p, method, params, 8000);
            seen.add(a.error ? String(a.error.code) : 'ok');
            if (a.error) expect(a.error.code, JSON.stringify(a.error)).to.be.oneOf([FILE_REFUSED, -32021]);
          }
        }
        expect(seen.has(String(FILE_REFUSED))).to.equal(true);
      } finally {
        swapper.kill('SIGKILL');
      }
      await intact();
    });

    it('refuses an import file that is not UTF-8, one nested deeper than 1,000 levels, and one with a lone surrogate, with nothing imported', async () => {
      const latin1 = join(outside, 'latin1.json');
      const exported = await ok(p, 'export.songs', { path: join(outside, 'songs.json') });
      const doc = JSON.parse(readFileSync(exported.path, 'utf8'));
      doc.songs[0].name = 'Café';
      writeFileSync(latin1, Buffer.from(JSON.stringify(doc), 'latin1'));
      const e = await fails(p, 'import.songs', { path: latin1, onConflict: 'duplicate' }, -32021);
      expect(e.data.errors[0].message).to.match(/UTF-8/);
      const deep = join(outside, 'deep.json');
      writeFileSync(deep, `{"format":"whiteroom-songs-export","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      const d2 = await fails(p, 'import.songs', { path: deep, onConflict: 'duplicate' }, -32021);
      expect(d2.data.errors[0].path).to.match(/^\/x(\/0)+$/);
      const lone = join(outside, 'lone.json');
      writeFileSync(lone, JSON.stringify(doc).replace('"Café"', '"Caf\\ud800"'));
      const l = await fails(p, 'import.songs', { path: lone, onConflict: 'duplicate' }, -32021);
      expect(l.data.errors[0].path).to.equal('/songs/0/name');
      expect((await ok(p, 'songs.count', {})).count).to.equal(3);
    });
  });

  describe('backups a crash left unfinished', () => {
    it('a backup left in WAL mode or with a hot journal is made standalone at start, listed, verified; deleting one takes its side files', async () => {
      const a = await ok(p, 'backup.create', {});
      await new Promise((r) => setTimeout(r, 1100));
      const b = await ok(p, 'backup.create', {});
      const d = p.dataDir;
      await stop(p);
      // a: a safety backup still in WAL mode, its -wal holding the last write (a restore killed before step 6).
      execFileSync('python3', ['-c', `import sqlite3, os, sys
c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL'); c.execute("INSERT INTO metadata(key, value) VALUES ('x', 'y')"); c.commit()
os._exit(0)`, a.path]);
      // b: killed while it was being labelled: a hot journal beside it.
      execFileSync('python3', ['-c', `import sqlite3, os, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('PRAGMA cache_size=1'); c.execute('BEGIN')
c.execute("UPDATE metadata SET value = 'half' WHERE key = 'backup_kind'")
c.execute("UPDATE songs SET name = name || ' (half-written)'")
os._exit(0)`, b.path]);
      expect(existsSync(`${a.path}-wal`), 'a has a -wal').to.equal(true);
      expect(existsSync(`${b.path}-journal`), 'b has a hot journal').to.equal(true);
      p = await procs.launch({ dataDir: d });
      const names = (await ok(p, 'backup.list', {})).items.map((x: any) => x.name);
      expect(names).to.include.members([a.name, b.name]);
      for (const x of [a, b]) {
        expect((await ok(p, 'backup.verify', { path: x.name })).ok, x.name).to.equal(true);
        for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(x.path + suffix), x.name + suffix).to.equal(false);
        expect(readFileSync(x.path).subarray(18, 20)).to.deep.equal(Buffer.from([1, 1]));
      }
      expect(sqlite3(a.path, "SELECT value FROM metadata WHERE key = 'x'")).to.equal('y');
      expect(sqlite3(b.path, "SELECT count(*) FROM songs WHERE name LIKE '%half-written%'")).to.equal('0');
      // A backup with side files beside it (put there by hand): delete takes them too.
      writeFileSync(`${a.path}-shm`, 'x');
      writeFileSync(`${a.path}-wal`, '');
      await ok(p, 'backup.delete', { path: a.name });
      expect(readdirSync(join(d, 'backups')).filter((n) => n.startsWith(a.name))).to.deep.equal([]);
    });
  });

  describe('hostile zips (import.full)', () => {
    /** Writes a zip with Python's zipfile: entries [name, bytes or a size of zeros, symlink?]. */
    function zip(path: string, entries: [string, string | number, boolean?][]): void {
      const script = `import zipfile, sys, json, stat
entries = json.loads(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for name, content, link in entries:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        if isinstance(content, int):
            with z.open(info, 'w', force_zip64=True) as f:
                block = b'\\0' * (1 << 20)
                for _ in range(content >> 20):
                    f.write(block)
        else:
            z.writestr(info, content)`;
      execFileSync('python3', ['-c', script, path, JSON.stringify(entries.map(([n, c, l]) => [n, c, !!l]))]);
    }

    it('refuses a 1 GiB highly compressible entry before writing a byte of it, quickly, its manifest agreeing', async function () {
      const bomb = join(outside, 'bomb.zip');
      const size = 1024 * 1024 * 1024;
      const manifest = JSON.stringify({
        format: 'whiteroom-full-backup',
        formatVersion: 1,
        app: { name: 'whiteroom-store', version: '0.1.0' },
        schemaVersion: 2,
        createdAt: 0,
        files: [{ name: 'data.db', sizeBytes: size, sha256: '0'.repeat(64) }],
      });
      zip(bomb, [
        ['manifest.json', manifest],
        ['data.db', size],
      ]);
      expect(statSync(bomb).size).to.be.below(8 * 1024 * 1024);
      const t0 = Date.now();
      const e = await fails(p, 'import.full', { path: bomb }, -32021);
      expect(Date.now() - t0).to.be.below(3000);
      expect(JSON.stringify(e.data.errors)).to.match(/times its|zip bomb/);
      expect(readdirSync(p.dataDir).filter((n) => n.startsWith('.'))).to.deep.equal([]);
      await intact();
    });

    it('refuses symlink entries, ".." names and absolute names, and writes nothing outside', async () => {
      const cases: [string, [string, string | number, boolean?][]][] = [
        ['link.zip', [['manifest.json', '{}'], ['data.db', join(p.dataDir, 'data.db'), true]]],
        ['dotdot.zip', [['manifest.json', '{}'], ['../../evil.txt', 'evil']]],
        ['abs.zip', [['manifest.json', '{}'], [join(outside, 'evil.txt'), 'evil']]],
      ];
      for (const [name, entries] of cases) {
        const path = join(outside, name);
        zip(path, entries);
        const a = await answered(p, 'import.full', { path });
        expect(a.error?.code, `${name}: ${JSON.stringify(a)}`).to.be.oneOf([-32021, -32020]);
      }
      expect(existsSync(join(outside, 'evil.txt'))).to.equal(false);
      expect(readdirSync(p.dataDir).filter((n) => n.startsWith('.'))).to.deep.equal([]);
      await intact();
    });
  });
});
