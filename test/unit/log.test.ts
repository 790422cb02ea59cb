import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createLogger, LOG_ROTATE_BYTES } from '../../src/log.js';
import { tempDir } from '../helpers/process.js';

describe('log: pino loaded after start-up', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('wr-log-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lines = (file: string): any[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  it('keeps records logged before pino is loaded, in order, with the time they were logged', async () => {
    const file = join(dir, 'logs', 'persistence.log');
    const log = createLogger({ level: 'info', file, stderr: false });
    log.info({ a: 1 }, 'first');
    log.warn('second');
    log.debug('below the level');
    await log.flush();
    log.error({ b: 2 }, 'after load');
    await log.flush();
    const got = lines(file);
    expect(got.map((l) => l.msg)).to.deep.equal(['first', 'second', 'after load']);
    expect(got[0]).to.include({ level: 30, a: 1 });
    expect(got[0].loggedAt).to.be.a('string');
    expect(got[2]).to.include({ level: 50, b: 2 });
    expect(got[2]).to.not.have.property('loggedAt');
  });

  it('with deferLoad, loads pino at load() or flush() only: the server waits until the first input is answered', async () => {
    const file = join(dir, 'deferred.log');
    const log = createLogger({ level: 'info', file, stderr: false, deferLoad: true });
    log.info('kept');
    await new Promise((resolve) => setTimeout(resolve, 50)); // many turns of the event loop
    expect(existsSync(file), 'nothing written before load()').to.equal(false);
    log.load();
    log.load(); // once
    await log.flush();
    expect(lines(file).map((l) => l.msg)).to.deep.equal(['kept']);

    const other = join(dir, 'flushed.log');
    const flushed = createLogger({ level: 'info', file: other, stderr: false, deferLoad: true });
    flushed.warn('written by flush');
    await flushed.flush();
    expect(lines(other).map((l) => l.msg)).to.deep.equal(['written by flush']);
  });

  it('silent writes nothing', async () => {
    const file = join(dir, 'silent.log');
    const log = createLogger({ level: 'silent', file, stderr: false });
    log.fatal('nothing');
    await log.flush();
    expect(existsSync(file) ? readFileSync(file, 'utf8') : '').to.equal('');
  });

  it('rotates a log file larger than LOG_ROTATE_BYTES to .1 when it opens it', async () => {
    const file = join(dir, 'big.log');
    writeFileSync(file, 'x'.repeat(LOG_ROTATE_BYTES + 1));
    const log = createLogger({ level: 'info', file, stderr: false });
    log.info('fresh');
    await log.flush();
    expect(lines(file).map((l) => l.msg)).to.deep.equal(['fresh']);
    expect(readFileSync(`${file}.1`, 'utf8').length).to.equal(LOG_ROTATE_BYTES + 1);
  });

  it('a log file the disk has no room for stops nothing: one line on stderr per run of failures', async function () {
    if (!existsSync('/dev/full')) this.skip(); // Linux: every write to it fails with ENOSPC
    const said: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      const log = createLogger({ level: 'info', file: '/dev/full', stderr: false });
      log.info('before pino is loaded');
      await log.flush();
      for (let i = 0; i < 5; i++) log.warn({ i }, 'while the disk is full');
      await log.flush();
    } finally {
      process.stderr.write = write;
    }
    expect(said).to.have.length(1);
    expect(said[0]).to.match(/^whiteroom-store: cannot write \/dev\/full \(ENOSPC\)/);
  });
});
