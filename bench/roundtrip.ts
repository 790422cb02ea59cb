/**
 * Round trip: one request at a time (send, wait for the answer), the way the host talks to the
 * sidecar. Baselines measured in the same run, interleaved in rounds:
 *   - a layer-free pipe server (a node child that answers every NDJSON line with a fixed result),
 *   - the same store operation in-process with better-sqlite3 (no transport at all).
 * Medians of per-request latency.
 *
 *   npm run bench:roundtrip [-- --requests 2000] [-- --bin dist-bin/whiteroom-store]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { benchSong, median, Peer, PIPE_SERVER, timeRequests } from './lib.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, bin: { type: 'string' } } });
const N = Number(values.requests);
const ROUNDS = 5;

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-rt-'));
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const sidecar = Peer.spawn(bin[0]!, [...bin.slice(1), '--data-dir', join(dir, 'data'), '--log-level', 'warn']);
const pipe = Peer.spawn(process.execPath, ['-e', PIPE_SERVER]);

const song = (id: string): object => benchSong(id);

try {
  await sidecar.ask(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'songs.save', params: { item: song('S0') } }));
  const ping = (i: number): string => `{"jsonrpc":"2.0","id":${i},"method":"system.ping"}`;
  const get = (i: number): string => `{"jsonrpc":"2.0","id":${i},"method":"songs.get","params":{"id":"S0"}}`;
  const save = (i: number): string =>
    JSON.stringify({ jsonrpc: '2.0', id: i, method: 'songs.save', params: { item: song(`S${i % 100}`) } });

  // In-process: the same read straight from better-sqlite3 (a copy of the file, same pragmas).
  const db = new Database(join(dir, 'data', 'data.db'), { readonly: true });
  const stmt = db.prepare('SELECT * FROM songs WHERE id = ?');

  const r: Record<string, number[]> = { pipe: [], ping: [], get: [], save: [], inproc: [] };
  const per = Math.ceil(N / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    r.pipe!.push(...(await timeRequests(pipe, ping, per)));
    r.ping!.push(...(await timeRequests(sidecar, ping, per)));
    r.get!.push(...(await timeRequests(sidecar, get, per)));
    r.save!.push(...(await timeRequests(sidecar, save, per)));
    for (let i = 0; i < per; i++) {
      const t = process.hrtime.bigint();
      const row = stmt.get('S0') as Record<string, string>;
      JSON.parse(row.sections_json!);
      JSON.parse(row.mix_graph_json!);
      r.inproc!.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
  }
  db.close();
  const base = median(r.pipe!);
  const inproc = median(r.inproc!);
  console.log(`round trip (${N} requests each, one at a time, medians in µs; target: ${bin.join(' ')})`);
  console.log(`  pipe server (baseline)        ${base.toFixed(0).padStart(6)}`);
  console.log(`  in-process songs row read     ${inproc.toFixed(0).padStart(6)}`);
  console.log(`  system.ping                   ${median(r.ping!).toFixed(0).padStart(6)}   ratio ${(median(r.ping!) / base).toFixed(2)}x pipe`);
  console.log(
    `  songs.get                     ${median(r.get!).toFixed(0).padStart(6)}   ratio ${(median(r.get!) / (base + inproc)).toFixed(2)}x (pipe + in-process read)`,
  );
  console.log(`  songs.save (one transaction)  ${median(r.save!).toFixed(0).padStart(6)}`);
} finally {
  pipe.child.kill();
  await sidecar.close();
  rmSync(dir, { recursive: true, force: true });
}
