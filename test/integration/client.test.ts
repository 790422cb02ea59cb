/**
 * The typed client (src/client/, the package's entry) through the real process: typed calls in
 * both framings, error answers as WhiteroomError with their data, notifications as events in
 * stream order, cancellation and progress of a long backup, close() letting the sidecar flush, a
 * crash rejecting pending calls, big answers, exact numbers (callText, a lossless parser), and
 * a client over streams the host spawned itself.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isLosslessNumber, parse as losslessParse } from 'lossless-json';
import { WhiteroomClient, WhiteroomConnectionError, WhiteroomError, ErrorCode, type Progress } from '../../src/client/index.js';
import { makeSong } from '../helpers/fixtures.js';
import { Clients, invalid, launched, notifications, rejects, stopClient, tracked } from '../helpers/client.js';
import { sidecarCommand, tempDir, type Framing } from '../helpers/process.js';
import { normalized } from '../helpers/rpc.js';

const clients = new Clients();
const backupFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'backups')).sort();

describe('typed client', function () {
  this.timeout(60000);
  afterEach(() => clients.cleanupAll());

  for (const framing of ['ndjson', 'header'] as Framing[]) {
    it(`calls typed methods over ${framing} framing, by family and by name`, async () => {
      const c = await clients.launch({ framing });
      expect(c.framing).to.equal(framing);
      expect((await c.system.info()).framing).to.equal(framing);
      const sent = makeSong();
      const created = await c.songs.create({ item: sent as any });
      expect(created.id).to.equal(sent.id);
      expect(created.revision).to.equal(1);
      expect(created.sections).to.deep.equal(sent.sections);
      expect(await c.call('songs.get', { id: sent.id })).to.deep.equal(created);
      const updated = await c.songs.update({ item: { ...(sent as any), name: 'Über ✓' }, ifRevision: 1 });
      expect([updated.name, updated.revision]).to.deep.equal(['Über ✓', 2]);
      // Params may be left out where the schema requires none.
      expect(await c.songs.count()).to.deep.equal({ count: 1 });
      expect(await c.call('songs.count')).to.deep.equal({ count: 1 });
      expect((await c.songs.list({ limit: 10 })).items.map((s) => s.id)).to.deep.equal([sent.id]);
      // Pipelined: many calls in flight at once, each answered to its own promise.
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? c.songs.get({ id: sent.id }) : c.system.ping())));
      expect(many.filter((r) => 'revision' in r)).to.have.length(25);
      expect(await c.songs.delete({ id: sent.id })).to.deep.equal({ ids: [sent.id], count: 1, cascaded: { performances: 0, autosaves: 0 } });
      await stopClient(c);
    });
  }

  it('error answers reject with WhiteroomError: code, message, data typed by code, the method', async () => {
    const c = await clients.launch();
    const missing = await rejects(c.songs.get({ id: 'no-such-song' }), -32001);
    expect(missing).to.be.instanceOf(Error);
    expect(missing.name).to.equal('WhiteroomError');
    expect(missing.method).to.equal('songs.get');
    expect(missing.data).to.deep.equal({ entity: 'songs', id: 'no-such-song' });
    expect(missing.is(ErrorCode.NotFound)).to.equal(true);
    expect(missing.is(ErrorCode.Conflict)).to.equal(false);

    const s = await c.songs.create({ item: makeSong() as any });
    await c.songs.setFavorite({ id: s.id, isFavorite: true });
    const stale = await rejects(c.songs.update({ item: makeSong({ id: s.id }) as any, ifRevision: 1 }), -32002);
    if (!stale.is(ErrorCode.Conflict)) throw new Error('narrowing');
    expect([stale.data.expected, stale.data.actual]).to.deep.equal([1, 2]);

    const errors = await invalid(c.callUntyped('songs.get', { id: 'x', extra: 1 }), '/extra');
    expect(errors).to.have.length(1);
    const unknown = await rejects(c.callUntyped('songs.fly', {}), -32601);
    expect(unknown.data).to.deep.equal({ method: 'songs.fly' });
    // A refused call changes nothing for the next: the process keeps serving.
    expect(await c.songs.count()).to.deep.equal({ count: 1 });
  });

  it('onAnswer sees each answer before its call settles; an exception it throws rejects that call only', async () => {
    const seen: string[] = [];
    const [command, lead] = sidecarCommand();
    const dir = clients.ownDir('wr-client-hook-');
    const c = await WhiteroomClient.spawn({
      command,
      args: [...lead, '--log-level', 'warn', '--auto-backup-hours', '0'],
      dataDir: dir,
      onAnswer: (a) => {
        seen.push(`${a.method}${a.error ? ` ${a.error.code}` : ''}`);
        if (a.method === 'songs.count') throw new Error('refused by the host');
      },
    });
    const refused = await c.songs.count().then(
      () => expect.fail('resolved'),
      (e: unknown) => e as Error,
    );
    expect(refused.message).to.equal('refused by the host');
    expect((await c.system.ping()).pong).to.equal(true);
    await c.songs.get({ id: 'none' }).catch(() => undefined);
    expect(seen).to.deep.equal(['system.ping', 'songs.count', 'system.ping', 'songs.get -32001']);
    expect(await c.close()).to.deep.equal({ code: 0, signal: null });
  });

  it('notifications are typed events, delivered in stream order: store.changed before the answer of its write', async () => {
    const c = await clients.launch();
    const seen: string[] = [];
    const revisions: number[] = [];
    const off = c.on('store.changed', (change) => {
      seen.push(`${change.entity}/${change.op}`);
      for (const r of Object.values(change.revisions ?? {})) revisions.push(r);
    });
    const any: string[] = [];
    c.on('notification', ({ method }) => any.push(method));
    const s = makeSong();
    const created = c.songs.create({ item: s as any }).then((r) => {
      seen.push('answer');
      return r;
    });
    await created;
    // In the arrival log (kept synchronously by the test helper): the insert, then the answer.
    const log = launched(c).log;
    const answerAt = log.findIndex((a) => a.kind === 'answer' && a.method === 'songs.create');
    const insertAt = log.findIndex((a) => a.kind === 'notification' && a.params.op === 'insert' && a.params.ids[0] === s.id);
    expect(insertAt).to.be.within(0, answerAt - 1);
    await c.songs.setFavorite({ id: s.id, isFavorite: true });
    expect(seen).to.deep.equal(['songs/insert', 'answer', 'songs/update']);
    expect(revisions).to.deep.equal([1, 2]);
    expect(any).to.deep.equal(['store.changed', 'store.changed']);
    // tracked (the test helper) reads the same order from the arrival log.
    const { result, changes } = await tracked(c, () => c.songs.delete({ id: s.id }));
    expect(result?.count).to.equal(1);
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'delete', ids: [s.id] }]);
    off();
    await c.songs.create({ item: makeSong() as any });
    expect(seen).to.have.length(4); // stopped listening: the last insert is not seen

    // autosave.saved, typed, after the flush that promoted the stage.
    const song = await c.songs.create({ item: makeSong() as any });
    const saved: { songId: string; rowWritten: boolean; revision: number }[] = [];
    c.once('autosave.saved', (n) => saved.push({ songId: n.songId, rowWritten: n.rowWritten, revision: n.revision }));
    await c.autosave.stage({ songId: song.id, snapshot: { song: { ...(song as any), name: 'Staged' } }, baseRevision: song.revision });
    const flushed = await c.autosave.flush();
    expect(flushed.ids).to.have.length(1);
    expect(saved).to.deep.equal([{ songId: song.id, rowWritten: true, revision: 2 }]);
  });

  describe('a long backup', function () {
    const BIG_SONGS = 32;
    let template: string | undefined;
    before(async function () {
      this.timeout(120000);
      template = tempDir('wr-client-big-');
      const c = await WhiteroomClient.spawn({
        command: sidecarCommand()[0],
        args: [...sidecarCommand()[1], '--log-level', 'warn', '--auto-backup-hours', '0'],
        dataDir: template,
      });
      for (let n = 0; n < BIG_SONGS; n += 8) {
        await c.songs.saveMany({ items: Array.from({ length: 8 }, (_, k) => makeSong({ sections: [{ blob: `${n + k}:`.padEnd(1_000_000, 'x') }] })) as any });
      }
      expect(await c.close()).to.deep.equal({ code: 0, signal: null });
      expect(statSync(join(template, 'data.db')).size).to.be.above(30e6);
    });
    after(() => template && rmSync(template, { recursive: true, force: true }));
    const bigDir = (): string => {
      const d = clients.ownDir('wr-client-backup-');
      cpSync(template!, d, { recursive: true });
      return d;
    };

    it('reports progress to onProgress (its own workDoneToken), and as $/progress events, before the answer', async () => {
      const c = await clients.launch({ dataDir: bigDir() });
      const progress: Progress[] = [];
      const events: unknown[] = [];
      c.on('$/progress', (p) => events.push(p.token));
      let answered = false;
      const made = await c.backup.create(
        { label: 'with progress' },
        {
          onProgress: (p) => {
            expect(answered, 'progress after the answer').to.equal(false);
            progress.push(p);
          },
        },
      );
      answered = true;
      expect(made.label).to.equal('with progress');
      const kinds = progress.map((p) => p.kind);
      expect(kinds[0]).to.equal('begin');
      expect(kinds[kinds.length - 1]).to.equal('end');
      const reports = progress.filter((p) => p.kind === 'report').map((p) => p.percentage!);
      expect(reports.length).to.be.at.least(1);
      expect(reports[reports.length - 1]).to.equal(100);
      expect(reports).to.deep.equal([...reports].sort((a, b) => a - b));
      expect(events).to.have.length(progress.length);
      expect(new Set(events).size, 'one token').to.equal(1);
      // A token of the host's own is kept and used.
      const own: Progress[] = [];
      await c.backup.create({ workDoneToken: 42 }, { onProgress: (p) => own.push(p) });
      expect(own.map((p) => p.kind)[0]).to.equal('begin');
      expect(events.slice(progress.length)).to.satisfy((xs: unknown[]) => xs.every((t) => t === 42));
      // onProgress on a method that reports none is refused before anything is sent.
      await c.callUntyped('songs.count', {}, { onProgress: () => {} }).then(
        () => expect.fail('accepted'),
        (err) => expect(err).to.be.instanceOf(TypeError),
      );
    });

    it('an aborted signal cancels it mid-copy: $/cancelRequest, AbortError -32800, no file left, the process serving on', async () => {
      const dir = bigDir();
      const c = await clients.launch({ dataDir: dir });
      const controller = new AbortController();
      const kinds: string[] = [];
      const backup = c.backup.create({ label: 'never' }, { signal: controller.signal, onProgress: (p) => kinds.push(p.kind) });
      controller.abort();
      const err = await rejects(backup, -32800);
      expect(err.name).to.equal('AbortError');
      expect(err.method).to.equal('backup.create');
      expect(kinds[0], 'it had begun: stopped mid-copy').to.equal('begin');
      expect(backupFiles(dir), 'no backup and no .partial file').to.deep.equal([]);
      expect(await c.songs.count()).to.deep.equal({ count: BIG_SONGS });
      // A signal aborted before the call: rejected at once, nothing sent (no backup).
      const sentBefore = launched(c).log.length;
      const never = await c.backup.create({}, { signal: AbortSignal.abort() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(never).to.be.instanceOf(WhiteroomError);
      expect((never as WhiteroomError).code).to.equal(-32800);
      expect(launched(c).log.length).to.equal(sentBefore);
      // Aborting a call after its answer changes nothing.
      const late = new AbortController();
      const made = await c.backup.create({ label: 'kept' }, { signal: late.signal });
      late.abort();
      expect(backupFiles(dir)).to.deep.equal([made.name]);
      await stopClient(c);
    });
  });

  it('close() ends stdin: the sidecar promotes what is staged, exits 0, and the next start finds it saved', async () => {
    const dir = clients.ownDir('wr-client-close-');
    const c = await clients.launch({ dataDir: dir });
    await c.autosave.configure({ debounceMs: 3_600_000, intervalMs: 3_600_000 });
    const song = await c.songs.create({ item: makeSong({ name: 'Before' }) as any });
    await c.autosave.stage({ songId: song.id, snapshot: { song: { ...(song as any), name: 'Staged, never flushed' } }, baseRevision: 1 });
    expect((await c.autosave.list({ songId: song.id })).items).to.deep.equal([]);
    const pending = c.songs.count();
    const exit = await c.close();
    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(await pending, 'a call sent before close() is answered').to.deep.equal({ count: 1 });
    expect(c.open).to.equal(false);
    const after = await c.songs.count().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(after).to.be.instanceOf(WhiteroomConnectionError);

    const again = await clients.launch({ dataDir: dir });
    const snapshots = (await again.autosave.list({ songId: song.id })).items;
    expect(snapshots).to.have.length(1);
    expect(snapshots[0]!.recovered ?? false, 'promoted at shutdown, not recovered after a crash').to.equal(false);
    expect((await again.songs.get({ id: song.id })).name).to.equal('Staged, never flushed');
    expect((await again.autosave.recoverable()).items).to.deep.equal([]);
    await stopClient(again);
  });

  it('a crash rejects every pending call with WhiteroomConnectionError, and every later call', async () => {
    const c = await clients.launch();
    const closed: unknown[] = [];
    c.on('close', (e) => closed.push(e.error.reason));
    // Stopped first, so that none of the calls can be answered before it dies.
    c.process!.kill('SIGSTOP');
    const calls = [c.songs.count(), c.system.stats(), c.songs.list()];
    c.process!.kill('SIGKILL');
    for (const call of calls) {
      const err = await call.then(
        () => expect.fail('answered'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(WhiteroomConnectionError);
      expect(err).to.not.be.instanceOf(WhiteroomError);
      expect((err as WhiteroomConnectionError).reason).to.equal('exited');
      expect((err as WhiteroomConnectionError).signal).to.equal('SIGKILL');
    }
    expect(closed).to.deep.equal(['exited']);
    const later = await c.system.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(later).to.be.instanceOf(WhiteroomConnectionError);
    expect(await c.close()).to.deep.equal({ code: null, signal: 'SIGKILL' });
  });

  it('a start the sidecar refuses rejects spawn() with its exit status and stderr', async () => {
    const c = await clients.launch();
    const [command, lead] = sidecarCommand();
    const err = await WhiteroomClient.spawn({ command, args: [...lead, '--log-level', 'warn'], dataDir: launched(c).dataDir }).then(
      () => expect.fail('a second instance started'),
      (e: unknown) => e as WhiteroomConnectionError,
    );
    expect(err).to.be.instanceOf(WhiteroomConnectionError);
    expect(err.exitCode).to.equal(1);
    expect(err.stderr).to.match(/^whiteroom-store: another whiteroom-store .*is already serving/m);
    expect(err.message).to.include('whiteroom-store:');
  });

  for (const framing of ['ndjson', 'header'] as Framing[]) {
    it(`a 10 MB song arrives whole over ${framing} framing (typed and as text)`, async () => {
      const c = await clients.launch({ framing });
      const blob = 'ø♪'.repeat(5 * 1024 * 1024 / 2); // 5 Mi characters, 10 MiB of UTF-8 and more
      const s = makeSong({ sections: [{ blob }, { n: 1 }] });
      await c.songs.create({ item: s as any });
      const read = await c.songs.get({ id: s.id });
      expect(read.sections).to.deep.equal(s.sections);
      const text = await c.callText('songs.get', { id: s.id });
      expect(Buffer.byteLength(text)).to.be.above(10e6);
      expect(JSON.parse(text)).to.deep.equal(read);
      // Answers behind it are not lost in the chunks.
      const [a, b, n] = await Promise.all([c.songs.get({ id: s.id }), c.callText('songs.get', { id: s.id }), c.songs.count()]);
      expect(a).to.deep.equal(read);
      expect(b).to.equal(text);
      expect(n).to.deep.equal({ count: 1 });
      await stopClient(c);
    });
  }

  it('callText answers a result exactly as stored, and a lossless parser keeps numbers beyond 2^53', async () => {
    const c = await clients.launch();
    const s = makeSong({ sections: [] });
    const item = JSON.stringify({ ...s, sections: ['@'] }).replace('"@"', '{"big":12345678901234567890,"huge":1e400,"neg":-0,"one":1.0}');
    const createdText = await c.callText('songs.create', `{"item":${item}}`);
    expect(createdText).to.include('"sections":[{"big":12345678901234567890,"huge":1e400,"neg":-0,"one":1.0}]');
    const text = await c.callText('songs.get', { id: s.id });
    expect(text).to.include('{"big":12345678901234567890,"huge":1e400,"neg":-0,"one":1.0}');
    // JSON.parse (the default) cannot hold them; a lossless parser given to the client can.
    const lossy = await c.songs.get({ id: s.id });
    expect((lossy.sections[0] as any).big).to.equal(12345678901234567000);
    const dir = launched(c).dataDir;
    await stopClient(c);
    const lossless = await clients.launch({ dataDir: dir, parse: (t) => losslessParse(t), checkResults: false });
    const got = (await lossless.songs.get({ id: s.id })) as any;
    expect(isLosslessNumber(got.sections[0].big)).to.equal(true);
    expect(got.sections[0].big.toString()).to.equal('12345678901234567890');
    expect(got.sections[0].huge.toString()).to.equal('1e400');
    expect(got.sections[0].neg.toString()).to.equal('-0');
    // Ids are read by the client, not the parser: answers are still matched to their calls.
    const counts = await Promise.all([lossless.songs.count(), lossless.songs.count({ isFavorite: true })]);
    expect(counts.map((x: any) => x.count.toString())).to.deep.equal(['1', '0']);
    await stopClient(lossless);
  });

  it('connect() speaks over streams the host made: the child\'s own stdio, both framings', async () => {
    for (const framing of ['header', 'ndjson'] as Framing[]) {
      const dir = clients.ownDir('wr-client-connect-');
      const [command, lead] = sidecarCommand();
      const child = spawn(command, [...lead, '--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const c = WhiteroomClient.connect(child.stdout, child.stdin, { framing });
      expect(c.process).to.equal(undefined);
      expect((await c.system.info()).framing).to.equal(framing);
      const s = await c.songs.create({ item: makeSong() as any });
      expect((await c.songs.get({ id: s.id })).revision).to.equal(1);
      expect(await c.close(), 'no process: no exit to answer').to.equal(undefined);
      expect(await exited).to.equal(0);
    }
  });

  it('a request over the message limit: refused before it is sent, or (limit unknown) matched to the one call pending', async () => {
    // The client reads the limit from spawn()'s args and refuses at once, as the sidecar would.
    const c = await clients.launch({ args: ['--max-message-bytes', '100000'] });
    const big = makeSong({ sections: [{ blob: 'x'.repeat(200_000) }] });
    const local = await rejects(c.songs.create({ item: big as any }), -32600);
    expect(local.message).to.match(/over the message limit of 100000/);
    expect(await c.songs.count()).to.deep.equal({ count: 0 });
    // Over streams, the client cannot know the limit: the sidecar answers id null, and the one
    // call pending is the one it refused.
    const dir = clients.ownDir('wr-client-limit-');
    const [command, lead] = sidecarCommand();
    const child = spawn(command, [...lead, '--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0', '--max-message-bytes', '100000'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const raw = WhiteroomClient.connect(child.stdout, child.stdin, { framing: 'ndjson' });
    const unmatched: unknown[] = [];
    raw.on('unmatched', (u) => unmatched.push(u));
    await raw.system.ping();
    const refused = await rejects(raw.songs.create({ item: big as any }), -32600);
    expect(refused.method).to.equal('songs.create');
    expect(unmatched).to.deep.equal([]);
    expect(await raw.songs.count()).to.deep.equal({ count: 0 });
    await raw.close();
  });
});
