#!/usr/bin/env node
// Builds dist-bin/whiteroom-store: one executable for this machine's platform, with Node, the
// bundled program, its migrations and schemas (compiled in by gen.mjs) and better-sqlite3's native
// addon inside. Offline: it copies the node that runs this script (Node's single executable
// application support), unlike pkg, which downloads base binaries.
//
//   1. gen.mjs                 validators, types, migrations, OpenRPC
//   2. esbuild                 src/main.ts -> one CommonJS file (SEA runs CommonJS)
//   3. node --experimental-sea-config   the preparation blob: a loader (the main script), the
//                              bundle and the addon as assets
//   4. copy node, (macOS) remove its signature
//   5. postject                inject the blob
//   6. (macOS) ad-hoc codesign; see docs/packaging.md for release signing
//   7. a training start writes the V8 code cache of the bundle; 3-6 again, with it as an asset
//   8. one call with an empty cache: the binary verifies and loads the addon it carries
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist-bin');
const work = join(outDir, 'build');
const isMac = process.platform === 'darwin';
const isWindows = process.platform === 'win32';
const binary = join(outDir, isWindows ? 'whiteroom-store.exe' : 'whiteroom-store');
/** The fuse Node's SEA support looks for (documented, fixed for every Node version with SEA). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const step = (what) => console.error(`package: ${what}`);
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

step('generating from rpc-schema/ and sql/');
run(process.execPath, [join(root, 'scripts', 'gen.mjs')]);

// The addon this node would load: the one npm built for this platform and Node ABI.
// The binary compares its cached copy with the addon it carries byte for byte, and names the copy
// by this hash: the bytes hashed are the bytes embedded (a copy of their own in the build folder).
const addonBytes = readFileSync(join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node'));
const addonHash = createHash('sha256').update(addonBytes).digest('hex');
const addonPath = join(work, 'better_sqlite3.node');
writeFileSync(addonPath, addonBytes);

/**
 * Builtins that the program requires at load time but uses only on paths a start-up never takes
 * (commander: child_process for executable subcommands; vscode-jsonrpc: net for socket
 * transports; pino: worker_threads for transports; backups and exports: fs/promises,
 * timers/promises, stream/promises and zlib). Each becomes a module with one getter per property
 * of the real module, which requires the real module on first use: their initialisation stays off
 * the host's wait for the first answer. The property names are read here, from this node (the
 * binary is this node). Not a Proxy: esbuild's __toESM copies every property name of a module
 * it converts, and asking a Proxy for its names loaded the module at once.
 */
const LAZY_BUILTINS = ['child_process', 'net', 'worker_threads', 'fs/promises', 'timers/promises', 'stream/promises', 'zlib'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'lazy-builtin'
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const real = require(`node:${args.path}`);
      const names = Object.getOwnPropertyNames(real).filter((k) => k !== '__proto__');
      const props = names.map((k) => {
        const enumerable = Object.getOwnPropertyDescriptor(real, k).enumerable;
        return `${JSON.stringify(k)}: { get: () => load()[${JSON.stringify(k)}], enumerable: ${enumerable} }`;
      });
      return {
        loader: 'js',
        contents: `let m; const load = () => (m ??= require('node:${args.path}'));\nmodule.exports = Object.defineProperties({}, {\n${props.join(',\n')}\n});\n`,
      };
    });
  },
};

/**
 * vscode-jsonrpc/node as the sidecar uses it. transport.ts extends its AbstractMessageReader and
 * AbstractMessageWriter (and uses Disposable), which are small modules; importing them through
 * vscode-jsonrpc/node loaded all of the library at start-up (connections, cancellation, the node
 * runtime layer; 1.6 ms of CPU here). The stand-in takes those three from their own modules and
 * every other export from the whole library, loaded on first use. vscode-jsonrpc's runtime layer
 * (RAL: console, timers, encoders), which the library installs as it loads, is installed by the
 * stand-in as getters that load the library first: the abstract reader and writer use it only
 * to log an error a listener throws.
 */
const jsonrpcNode = require.resolve('vscode-jsonrpc/node');
const jsonrpcCommon = join(dirname(jsonrpcNode), '..', 'common');
const JSONRPC_LIGHT = { AbstractMessageReader: 'messageReader.js', AbstractMessageWriter: 'messageWriter.js', Disposable: 'disposable.js' };
const jsonrpcLight = {
  name: 'jsonrpc-light',
  setup(b) {
    b.onResolve({ filter: /^vscode-jsonrpc\/node$/ }, (args) =>
      args.namespace === 'jsonrpc-light' ? { path: jsonrpcNode } : { path: 'vscode-jsonrpc/node', namespace: 'jsonrpc-light' },
    );
    b.onLoad({ filter: /.*/, namespace: 'jsonrpc-light' }, () => {
      const real = require(jsonrpcNode);
      const ralKeys = Object.keys(require(join(jsonrpcCommon, 'ral.js')).default());
      const at = (file) => JSON.stringify(join(jsonrpcCommon, file));
      for (const [name, file] of Object.entries(JSONRPC_LIGHT)) {
        if (require(join(jsonrpcCommon, file))[name] !== real[name]) throw new Error(`vscode-jsonrpc: ${name} is not in ${file} any more`);
      }
      const props = Object.getOwnPropertyNames(real).map((k) => {
        const key = JSON.stringify(k);
        const enumerable = Object.getOwnPropertyDescriptor(real, k).enumerable;
        if (k === '__esModule') return `${key}: { value: true, enumerable: ${enumerable} }`;
        const get = JSONRPC_LIGHT[k] ? `require(${at(JSONRPC_LIGHT[k])})[${key}]` : `full()[${key}]`;
        return `${key}: { get: () => ${get}, enumerable: ${enumerable} }`;
      });
      return {
        loader: 'js',
        resolveDir: root,
        contents: [
          `let m; const full = () => (m ??= require('vscode-jsonrpc/node'));`,
          `const RAL = require(${at('ral.js')}).default;`,
          // Unless the library is loaded already (its own layer is then installed).
          `try { RAL(); } catch { RAL.install(Object.defineProperties({}, {${ralKeys.map((k) => `${JSON.stringify(k)}: { get: () => (full(), RAL())[${JSON.stringify(k)}] }`).join(', ')}})); }`,
          `module.exports = Object.defineProperties({}, {\n${props.join(',\n')}\n});`,
        ].join('\n'),
      };
    });
  },
};

step('bundling src/main.ts');
const bundle = join(work, 'whiteroom-store.cjs');
await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${process.versions.node.split('.')[0]}`,
  // Identifiers stay readable so stack traces in logs stay useful.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  define: { __WHITEROOM_ADDON_SHA256__: JSON.stringify(addonHash) },
  plugins: [lazyBuiltins, jsonrpcLight],
  logLevel: 'warning',
});
// A SEA main script is not a file node reads, so it must not start with a #! line.
const bundled = readFileSync(bundle, 'utf8');
// The loader reads the bundle as Latin-1 (a copy of its bytes) rather than decoding UTF-8: about
// a millisecond less per start. esbuild writes ASCII (its default charset) except inside regular
// expression literals, which it leaves as written (/ς/ in text-fold.ts); a \\u escape means the
// same character there as in a string.
const escape = (c) =>
  [...c]
    .flatMap((ch) => (ch.codePointAt(0) > 0xffff ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [ch.charCodeAt(0)]))
    .map((u) => `\\u${u.toString(16).padStart(4, '0')}`)
    .join('');
writeFileSync(bundle, bundled.replace(/^#!.*\n/, '').replace(/[^\x00-\x7f]/gu, escape));
// The result validators are the tests' (src/generated/result-validators.ts): the sidecar never
// reaches them, and half the validator code would cost every start its loading.
if (/__result\b/.test(bundled)) throw new Error('the bundle carries result validators: something in src/ imports them');

/**
 * The SEA's main script is a loader: it compiles the bundle (an asset) with a V8 code cache of its
 * own. SEA's `useCodeCache` is made before the bundle has run, so it holds only the bundle's
 * top-level code, and every function a start runs is compiled from source at every start. The
 * cache the loader uses is made after a start on a training data directory, with every function
 * that start compiled. V8 checks a cache against the source and its own version and flags, and
 * compiles from source when it does not fit: a stale cache costs time, never correctness.
 */
const BUNDLE_ASSET = 'whiteroom-store.cjs';
const CODE_CACHE_ASSET = 'whiteroom-store.code-cache';
const TRAIN_ENV = 'WHITEROOM_STORE_WRITE_CODE_CACHE';
const loader = join(work, 'loader.cjs');
writeFileSync(
  loader,
  `// Generated by scripts/package.mjs: compiles and runs the bundled program (see there).
const { getAsset, getRawAsset } = require('node:sea');
const { Script } = require('node:vm');
let cachedData;
try {
  cachedData = new Uint8Array(getRawAsset(${JSON.stringify(CODE_CACHE_ASSET)}));
} catch {
  // the training build has none yet
}
const source = Buffer.from(getRawAsset(${JSON.stringify(BUNDLE_ASSET)})).toString('latin1'); // ASCII
const script = new Script('(function (exports, require, module, __filename, __dirname) {' + source + '\\n})', {
  filename: ${JSON.stringify(BUNDLE_ASSET)},
  cachedData,
});
const out = process.env.${TRAIN_ENV};
if (out) {
  delete process.env.${TRAIN_ENV};
  process.once('exit', () => {
    if (script.cachedDataRejected) process.stderr.write('whiteroom-store: the code cache was rejected\\n');
    require('node:fs').writeFileSync(out, script.createCachedData());
  });
}
script.runInThisContext()(module.exports, require, module, __filename, __dirname);
`,
);

/** Writes the SEA blob (the loader, the bundle, the addon and, when given, the code cache) and injects it into a copy of node at `binary`. */
function buildBinary(codeCache) {
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  const assets = { 'better_sqlite3.node': addonPath, [BUNDLE_ASSET]: bundle, ...(codeCache ? { [CODE_CACHE_ASSET]: codeCache } : {}) };
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: loader, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, assets }, null, 2),
  );
  run(process.execPath, ['--experimental-sea-config', seaConfig]);

  step(`copying ${process.execPath}`);
  rmSync(binary, { force: true });
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  if (isMac) run('codesign', ['--remove-signature', binary]);

  step('injecting the blob');
  // postject's CLI in a child process: its ELF library prints a harmless "Can't find string offset
  // for section name '.note…'" line per note section, which is filtered out; anything else is shown.
  const injected = spawnSync(
    process.execPath,
    [
      require.resolve('postject/dist/cli.js'),
      binary,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      SEA_FUSE,
      ...(isMac ? ['--macho-segment-name', 'NODE_SEA'] : []),
      '--overwrite',
    ],
    { encoding: 'utf8' },
  );
  const noise = /^warning: Can't find string offset for section name '\.note[^']*'$/;
  for (const line of `${injected.stdout}${injected.stderr}`.split('\n')) if (line && !noise.test(line)) console.error(line);
  if (injected.status !== 0) throw new Error(`postject failed (exit ${injected.status})`);
  if (isMac) run('codesign', ['--sign', '-', binary]);
}

/**
 * A start as the host makes it, on a data directory made by a first start: ping, system.info,
 * end of input. Its process writes the code cache to `out` (or, without `out`, must find its own
 * cache acceptable). Everything it writes goes to a folder of its own.
 */
function trainingStart(out) {
  const dir = mkdtempSync(join(tmpdir(), 'wr-package-train-'));
  try {
    const env = { PATH: process.env.PATH ?? '', HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), TMPDIR: dir, LOCALAPPDATA: join(dir, 'local') };
    const input = ['system.ping', 'system.info'].map((method, i) => `{"jsonrpc":"2.0","id":${i + 1},"method":"${method}"}\n`).join('');
    const args = ['--data-dir', join(dir, 'data'), '--log-level', 'warn', '--auto-backup-hours', '0'];
    for (const write of [false, true]) {
      const r = spawnSync(binary, args, { input, encoding: 'utf8', env: write ? { ...env, [TRAIN_ENV]: out ?? join(dir, 'check.cache') } : env });
      if (r.status !== 0 || r.stdout.split('\n').filter(Boolean).length !== 2 || r.stderr !== '') {
        throw new Error(`the training start failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

step('preparing the SEA blob (loader, bundle, addon) for a training start');
buildBinary(undefined);
step('a training start writes the code cache');
const codeCache = join(work, CODE_CACHE_ASSET);
trainingStart(codeCache);
step('preparing the SEA blob with the code cache');
buildBinary(codeCache);
step('checking that the binary accepts its code cache');
trainingStart(undefined);

// The binary writes the addon it carries to a cache folder, compares the copy with it and loads it
// (src/store/native-addon.ts): one call with an empty cache of its own proves it can.
step('checking that the binary loads the addon it carries');
const probe = mkdtempSync(join(tmpdir(), 'wr-package-'));
try {
  const env = { ...process.env, HOME: probe, XDG_CACHE_HOME: join(probe, 'cache'), LOCALAPPDATA: join(probe, 'local') };
  const ping = spawnSync(binary, ['--data-dir', join(probe, 'data'), 'call', 'system.ping'], { env, encoding: 'utf8' });
  if (ping.status !== 0) throw new Error(`the binary cannot load its addon (exit ${ping.status}): ${ping.stderr}`);
} finally {
  rmSync(probe, { recursive: true, force: true });
}

const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
step(`done: ${binary} (${(statSync(binary).size / 1048576).toFixed(1)} MiB), --version says ${version}`);
