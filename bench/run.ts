/**
 * `npm run bench`: every benchmark, one after another, each in its own process (so one's heap and
 * caches never weigh on the next), then docs/PERFORMANCE.md with every figure, the goals met or
 * not, the machine and the command, and docs/performance-growth.svg, the growth curves drawn here.
 *
 *   npm run bench                 everything (about 15 minutes; builds libraries up to 1,000,000 songs once)
 *   npm run bench -- --quick      smaller sizes and fewer runs (under two minutes)
 *   npm run bench -- --only growth,search    some of them
 *   npm run bench -- --fresh      rebuild the kept song libraries (bench/library.ts)
 *   npm run bench -- --no-write   print only; leave docs/ alone
 *
 * Each bench prints its own table as it goes and appends its report (bench/lib.ts `report`) to a
 * file named by WR_BENCH_JSON; a bench that fails is reported as failed and the others still run.
 */
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem, tmpdir } from 'node:os';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { BenchReport, Figure, Series } from './lib.js';
import { LIBRARY_ROOT } from './library.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

/** The benches, in the order they run, and the arguments each takes in a full run. */
const BENCHES: { name: string; args: string[]; what: string }[] = [
  { name: 'startup', args: [], what: 'spawn to first answer of the packaged binary, against node -e 0' },
  { name: 'roundtrip', args: [], what: 'requests one at a time and 1,000 in flight, against the floor servers' },
  { name: 'plan', args: [], what: "the persistence plan's performance table at 1,000 songs" },
  { name: 'migration', args: [], what: 'start on a 100 MB database of schema 1: backup and every migration' },
  { name: 'growth', args: [], what: 'get, a list page and search at 1k to 1M songs; peak memory' },
  { name: 'search', args: [], what: "songs.search against the plan's LIKE query at 1k to 1M songs" },
  { name: 'backup', args: [], what: 'backup and restore of a 100 MB database against copy + fsync' },
  { name: 'autosave', args: [], what: 'autosave.stage and flush of a 1 MB state' },
  { name: 'history', args: [], what: 'history: versions of a 204 KB song, storage against whole copies' },
  { name: 'usage', args: [], what: 'instruments.usage over 10,000 songs' },
];

const root = resolve('.');
const only = values.only?.split(',');
const chosen = BENCHES.filter((b) => !only || only.includes(b.name));
if (values.fresh) rmSync(LIBRARY_ROOT, { recursive: true, force: true });

const out = mkdtempSync(join(tmpdir(), 'wr-bench-run-'));
const jsonFile = join(out, 'reports.jsonl');
writeFileSync(jsonFile, '');
const started = Date.now();
const failed: string[] = [];
const took = new Map<string, number>();

// The packaged binary is what start-up is measured on: made if missing.
const bin = join(root, 'dist-bin', 'whiteroom-store');
if (chosen.some((b) => b.name === 'startup') && !existsSync(bin)) {
  console.log('packaging dist-bin/whiteroom-store for the start-up bench');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) failed.push('package');
}

for (const b of chosen) {
  const script = join(root, 'dist', 'bench', `${b.name}.js`);
  console.log(`\n== ${b.name}: ${b.what}`);
  if (!existsSync(script)) {
    console.log(`   (missing: ${script})`);
    failed.push(b.name);
    continue;
  }
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [script, ...b.args], {
    stdio: 'inherit',
    env: { ...process.env, WR_BENCH_JSON: jsonFile, WR_BENCH_QUICK: values.quick ? '1' : '0' },
  });
  took.set(b.name, (Date.now() - t0) / 1000);
  if (r.status !== 0) {
    console.log(`   ${b.name} failed (exit ${r.status ?? r.signal})`);
    failed.push(b.name);
  }
}

const reports = readFileSync(jsonFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as BenchReport);
rmSync(out, { recursive: true, force: true });
const seconds = (Date.now() - started) / 1000;
const command = `npm run bench${values.quick ? ' -- --quick' : ''}${values.only ? ` -- --only ${values.only}` : ''}`;

const goals = reports.flatMap((r) => r.figures.filter((f) => f.goal !== undefined).map((f) => ({ bench: r.bench, f })));
console.log(`\n== goals (${goals.filter((g) => g.f.met).length} of ${goals.length} met), ${seconds.toFixed(0)} s in all`);
for (const { bench, f } of goals) console.log(`  ${f.met ? 'met    ' : 'NOT met'}  ${bench}: ${f.name}: ${value(f)} (goal ${f.goal})`);
if (failed.length) console.log(`  failed: ${failed.join(', ')}`);

if (!values['no-write']) {
  const series = reports.flatMap((r) => (r.series ?? []).filter((s) => s.chart !== false).map((s) => ({ ...s, bench: r.bench })));
  const svg = chart(series.filter((s) => s.unit === 'ms'), series.filter((s) => s.unit === 'MiB'));
  writeFileSync(join(root, 'docs', 'performance-growth.svg'), svg);
  writeFileSync(join(root, 'docs', 'PERFORMANCE.md'), markdown(reports, command, seconds, failed));
  console.log('  wrote docs/PERFORMANCE.md and docs/performance-growth.svg');
}
process.exitCode = failed.length ? 1 : 0;

// ---------------------------------------------------------------------------------------------

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The next 1, 2 or 5 times a power of ten at or above `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v)!;
}

function value(f: Figure): string {
  return f.ratio !== undefined ? `${fmt(f.ratio)}x (${fmt(f.median)} ${f.unit})` : `${fmt(f.median)} ${f.unit}`;
}

function machine(): string[] {
  const c = cpus();
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return [
    `- CPU: ${c.length} × ${c[0]?.model ?? 'unknown'}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(0)} GiB; kernel ${release()} (${process.platform}/${process.arch})`,
    `- Node ${process.versions.node}, SQLite ${sqlite} (better-sqlite3)`,
    `- Temp folder (libraries, databases): ${tmpdir()}`,
  ];
}

function markdown(rs: BenchReport[], cmd: string, secs: number, fails: string[]): string {
  const lines = [
    '# Performance',
    '',
    `Made by \`${cmd}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round(secs)} s; every figure below comes from that run.`,
    'Run it again to remake this page (it is written by `bench/run.ts`; do not edit it by hand).',
    '',
    'Every figure is a median (p99 beside it where there are enough samples), and every ratio is to a baseline',
    'measured in the same run, alternating with the subject, because the machine is shared and noisy.',
    'Measured processes run with a clean environment (`NODE_EXTRA_CA_CERTS` alone adds about 38 ms to every Node start).',
    '',
    '## Machine',
    '',
    ...machine(),
    '',
    '## Goals',
    '',
    '| | bench | figure | result | goal |',
    '|---|---|---|---|---|',
    ...rs.flatMap((r) =>
      r.figures
        .filter((f) => f.goal !== undefined)
        .map((f) => `| ${f.met ? '✅ met' : '❌ not met'} | ${r.bench} | ${f.name} | ${value(f)}${f.baseline ? ` of ${f.baseline}` : ''} | ${f.goal} |`),
    ),
    ...(fails.length ? ['', `**Failed to run:** ${fails.join(', ')}.`] : []),
    '',
    '## Growth',
    '',
    '![Latency and memory by library size](performance-growth.svg)',
    '',
  ];
  for (const r of rs) {
    lines.push(`## ${r.bench}`, '', `${r.setup}${took.has(r.bench) ? ` (${took.get(r.bench)!.toFixed(0)} s)` : ''}`, '');
    lines.push('| figure | median | p99 | ratio | goal |', '|---|---:|---:|---|---|');
    for (const f of r.figures) {
      const ratio = f.ratio === undefined ? '' : `${fmt(f.ratio)}x ${f.goal?.startsWith('≥') ? 'faster than' : 'of'} ${f.baseline}`;
      const goal = f.goal === undefined ? '' : `${f.goal} ${f.met ? '✅' : '❌'}`;
      lines.push(`| ${f.name} | ${fmt(f.median)} ${f.unit} | ${f.p99 === undefined ? '' : `${fmt(f.p99)} ${f.unit}`} | ${ratio} | ${goal} |`);
    }
    for (const s of r.series ?? []) {
      lines.push('', `${s.name} (${s.unit}) by songs: ${s.points.map((p) => `${p.x.toLocaleString('en')}: ${fmt(p.median)}`).join(' · ')}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** Two panels side by side: latency (log scale) and memory (linear) against library size (log scale). */
function chart(latency: (Series & { bench: string })[], memory: (Series & { bench: string })[]): string {
  const W = 480;
  const H = 300;
  const M = { l: 56, r: 36, t: 28, b: 40 };
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const panel = (ss: (Series & { bench: string })[], title: string, unit: string, logY: boolean, dx: number): { svg: string; legend: string[] } => {
    const pts = ss.flatMap((s) => s.points).filter((p) => p.median > 0);
    if (pts.length === 0) return { svg: '', legend: [] };
    const xs = pts.map((p) => p.x);
    const x0 = Math.log10(Math.min(...xs));
    const x1 = Math.max(Math.log10(Math.max(...xs)), x0 + 1);
    const ys = pts.map((p) => p.median);
    const top = Math.max(...ys);
    const y0 = logY ? Math.floor(Math.log10(Math.min(...ys))) : 0;
    const y1 = logY ? Math.max(Math.ceil(Math.log10(top)), y0 + 1) : niceCeil(top * 1.1);
    const px = (x: number): number => dx + M.l + ((Math.log10(x) - x0) / (x1 - x0)) * (W - M.l - M.r);
    const py = (y: number): number => M.t + (1 - ((logY ? Math.log10(y) : y) - y0) / (y1 - y0)) * (H - M.t - M.b);
    const parts: string[] = [];
    parts.push(`<text x="${dx + M.l}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
    // Grid: decades of songs across; decades (log) or fifths (linear) up.
    for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
      const x = px(10 ** e);
      parts.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${H - M.b}" stroke="#ddd"/>`);
      parts.push(`<text x="${x}" y="${H - M.b + 16}" font-size="11" text-anchor="middle">${esc((10 ** e).toLocaleString('en'))}</text>`);
    }
    parts.push(`<text x="${dx + (M.l + W - M.r) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">songs in the library</text>`);
    const ticks = logY ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : Array.from({ length: 6 }, (_, i) => (y1 / 5) * i);
    for (const t of ticks) {
      const y = logY ? py(t) : M.t + (1 - t / y1) * (H - M.t - M.b);
      parts.push(`<line x1="${dx + M.l}" y1="${y}" x2="${dx + W - M.r}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${dx + M.l - 4}" y="${y + 4}" font-size="11" text-anchor="end">${esc(t >= 1 || t === 0 ? fmt(t) : String(t))}</text>`);
    }
    parts.push(`<text x="${dx + 12}" y="${(M.t + H - M.b) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${dx + 12} ${(M.t + H - M.b) / 2})">${esc(unit)}</text>`);
    const legend: string[] = [];
    ss.forEach((s, i) => {
      const color = COLORS[(i + (logY ? 0 : 5)) % COLORS.length]!;
      const line = s.points
        .filter((p) => p.median > 0)
        .map((p) => `${px(p.x).toFixed(1)},${py(p.median).toFixed(1)}`);
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${line.join(' ')}"/>`);
      for (const xy of line) parts.push(`<circle cx="${xy.split(',')[0]}" cy="${xy.split(',')[1]}" r="2.5" fill="${color}"/>`);
      legend.push(`<tspan fill="${color}">■</tspan> ${esc(`${s.bench}: ${s.name}`)}`);
    });
    return { svg: parts.join('\n'), legend };
  };
  const a = panel(latency, 'Latency (median, log scale)', 'ms', true, 0);
  const b = panel(memory, 'Peak anonymous memory', 'MiB', false, W);
  const legend = [...a.legend, ...b.legend];
  const height = H + 10 + legend.length * 16;
  const legendSvg = legend.map((l, i) => `<text x="${M.l}" y="${H + 14 + i * 16}" font-size="12">${l}</text>`).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${height}" viewBox="0 0 ${2 * W} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    a.svg,
    b.svg,
    legendSvg,
    '</svg>',
    '',
  ].join('\n');
}
