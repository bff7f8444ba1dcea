// Runs a wasm32-wasip1 command module under Node's V8 -- the engine family
// Envoy embeds -- so the firewall's engine can be timed and profiled in Wasm
// without a proxy (scripts/bench-wasm.sh).
//
//   node scripts/wasi-run.mjs MODULE.wasm ARGS...
//
// The proxy-wasm host functions the library links against are stubbed (the
// engine never calls them); the module gets read access to / for /proc.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { argv, env as processEnv, exit } from 'node:process';

if (argv.length < 3) {
  console.error('usage: node scripts/wasi-run.mjs MODULE.wasm ARGS...');
  exit(2);
}
// INFW_* variables pass through (INFW_PACK, INFW_EVICT).
const passed = Object.fromEntries(Object.entries(processEnv).filter(([k]) => k.startsWith('INFW_')));
const wasi = new WASI({ version: 'preview1', args: argv.slice(2), env: passed, preopens: { '/': '/' } });
const module = await WebAssembly.compile(readFileSync(argv[2]));
const env = {};
for (const i of WebAssembly.Module.imports(module)) {
  if (i.module === 'env') {
    env[i.name] = () => 0;
  }
}
const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env });
// The plugin's reactor entry point (proxy-wasm's `_initialize`) sits beside
// the example's `_start`; Node's WASI refuses a module exporting both.
const { _initialize, ...exports } = instance.exports;
exit(wasi.start({ exports }));
