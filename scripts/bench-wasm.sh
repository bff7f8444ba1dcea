#!/usr/bin/env bash
# The engine in V8: examples/evalloop.rs compiled to wasm32-wasip1 and run
# under Node (the V8 Envoy embeds, in another version), per benchmark body.
# Envoy's per-request figure (inference_firewall_eval_us, scripts/bench-proxy.sh)
# adds the host calls; this isolates the engine and can profile it.
#
#   scripts/bench-wasm.sh [CASE...]        CASE: english mixed big model model-mixed (default: english mixed)
#   PROFILE=1 scripts/bench-wasm.sh english   also writes a V8 CPU profile and prints the
#                                            functions with the most self time
#   BENCH_N=3000                           evaluations per case
#   INFW_EVICT=2097152                     write that many bytes between evaluations (cold caches, as in a proxy)
#
# Builds into $CARGO_TARGET_DIR/wasm-bench (its own flags: names kept for profiles).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "bench-wasm: node is required" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-target}/wasm-bench
N=${BENCH_N:-3000}
[ $# -gt 0 ] || set -- english mixed
# Symbols kept (wasm-ld's name section) so V8 profiles name functions; the
# code is the release build's.
RUSTFLAGS='-C strip=none -C debuginfo=1' CARGO_TARGET_DIR="$target" \
  cargo build --quiet --release --example evalloop --target wasm32-wasip1 --config 'profile.release.strip=false'
wasm="$target/wasm32-wasip1/release/examples/evalloop.wasm"
for case in "$@"; do
  if [ "${PROFILE:-0}" = 1 ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/infw-prof.XXXXXX")
    node --no-warnings --cpu-prof --cpu-prof-dir="$dir" scripts/wasi-run.mjs "$wasm" "$case" "$N"
    python3 - "$dir"/*.cpuprofile <<'PY'
import collections, json, re, sys
p = json.load(open(sys.argv[1]))
nodes = {n["id"]: n for n in p["nodes"]}
own = collections.Counter()
for s, d in zip(p["samples"], p["timeDeltas"]):
    own[nodes[s]["callFrame"]["functionName"]] += d
total = sum(own.values()) or 1
print(f"self time, top 25 of {sys.argv[1]} (includes compiling the pack once):")
for name, t in own.most_common(25):
    name = re.sub(r"17h[0-9a-f]{16}E$", "", name)
    print(f"  {100 * t / total:5.1f}%  {name[:140]}")
PY
  else
    node --no-warnings scripts/wasi-run.mjs "$wasm" "$case" "$N"
  fi
done
