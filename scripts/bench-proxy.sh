#!/usr/bin/env bash
# Proxy benchmark: the same benign OpenAI chat requests through Envoy with and
# without the firewall, in one run, same duration and concurrency; and through
# a reference Wasm filter that buffers and reads the body like the firewall but
# inspects nothing (benches/reference-filter), which separates what the Wasm
# runtime costs from what the engine costs.
#
#   ENVOY=/path/to/envoy WASM=target/wasm32-wasip1/release/inference_firewall.wasm \
#   REFERENCE_WASM=target/wasm32-wasip1/release/reference_filter.wasm scripts/bench-proxy.sh
#   (make bench builds both wasm files, installs Envoy and wrk, and sets all three)
#
# Knobs (environment): BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3),
# BENCH_CONNECTIONS (8), BENCH_THREADS (wrk threads, 1), BENCH_WORKERS (Envoy
# --concurrency, 1), BENCH_SIZES (KiB, "4 64").
#
# Loopback only; builds nothing; stops Envoy when done. On a 2-core machine
# Envoy (1 worker) and wrk (1 thread) get a core each, so absolute numbers are
# modest; the ratio between the two listeners is the result.

set -euo pipefail
cd "$(dirname "$0")/.."

: "${ENVOY:?set ENVOY to the Envoy binary (make bench does)}"
: "${WASM:?set WASM to the release wasm (make bench does)}"
: "${REFERENCE_WASM:?set REFERENCE_WASM to the reference filter (make bench builds it)}"
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-8}
THREADS=${BENCH_THREADS:-1}
WORKERS=${BENCH_WORKERS:-1}
SIZES=${BENCH_SIZES:-"4 64"}
ADMIN=9902

for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-proxy: $tool is required (make bench-tools)" >&2; exit 2; }
done
[ -f "$WASM" ] || { echo "bench-proxy: $WASM: no such file (make build)" >&2; exit 2; }
[ -f "$REFERENCE_WASM" ] || { echo "bench-proxy: $REFERENCE_WASM: no such file (make bench builds it)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/infw-bench.XXXXXX")
envoy_pid=''
cleanup() {
  if [ -n "$envoy_pid" ]; then kill "$envoy_pid" 2>/dev/null || true; wait "$envoy_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 scripts/render-envoy-config.py --template envoy/envoy-bench.yaml --wasm "$WASM" \
  --set admin-port=$ADMIN --set "reference-wasm=$(realpath "$REFERENCE_WASM")" --out "$work/envoy.yaml"

for port in 10000 10001 10002 10003 $ADMIN; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench-proxy: port $port is in use (is make run still running?)" >&2; exit 2
  fi
done

"$ENVOY" -c "$work/envoy.yaml" --concurrency "$WORKERS" --disable-hot-restart --log-level warn \
  >"$work/envoy.log" 2>&1 &
envoy_pid=$!
for _ in $(seq 1 300); do
  if curl -sf "127.0.0.1:$ADMIN/ready" 2>/dev/null | grep -q LIVE; then break; fi
  kill -0 "$envoy_pid" 2>/dev/null || { echo "bench-proxy: Envoy exited:" >&2; cat "$work/envoy.log" >&2; exit 1; }
  sleep 0.2
done

# Benign chat bodies of about the given size: a conversation of ordinary turns.
make_body() { # KiB file
  python3 - "$1" "$2" <<'EOF'
import json, sys
target = int(sys.argv[1]) * 1024
turns = [
    ("user", "Could you suggest a three-day walking itinerary for Lisbon, with a cafe for each morning?"),
    ("assistant", "Day one: Alfama and the castle, then a tram ride to Baixa. Day two: Belem, the monastery and the riverside. Day three: Chiado, Bairro Alto and a sunset viewpoint."),
    ("user", "How should I store fresh basil so that it lasts for a week in a small kitchen?"),
    ("assistant", "Trim the stems, stand them in a glass of water like flowers, keep the glass on the counter away from direct sun, and change the water every other day."),
    ("user", "Summarize the water cycle for a ten-year-old in a short paragraph with simple words."),
    ("assistant", "Water warms up in the sun and rises as vapour, cools into clouds, falls back as rain or snow, and flows through rivers to the sea, where it starts again."),
]
messages = [{"role": "system", "content": "You are a helpful assistant for travel, cooking and science questions."}]
i = 0
while len(json.dumps({"model": "bench-model", "messages": messages})) < target:
    role, text = turns[i % len(turns)]
    messages.append({"role": role, "content": f"{text} (note {i})"})
    i += 1
if messages[-1]["role"] != "user":
    messages.append({"role": "user", "content": "Thank you, that helps a lot."})
with open(sys.argv[2], "w") as f:
    json.dump({"model": "bench-model", "messages": messages, "temperature": 0.2}, f)
EOF
}

cat >"$work/post.lua" <<'EOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %.1f %d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
EOF

# run PORT BODY SECONDS [CONNECTIONS] -> "requests seconds p50_us p99_us errors"
run() {
  BENCH_BODY="$2" wrk -t"$THREADS" -c"${4:-$CONNECTIONS}" -d"${3}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$1/v1/chat/completions" | awk '/^RESULT/ { print $2, $3, $4, $5, $6 }'
}

# The firewall's own evaluation time inside V8, from its histogram: the P50
# and P99 of the last stats interval (the single-connection run just before).
eval_us() {
  curl -s "127.0.0.1:$ADMIN/stats?filter=inference_firewall_eval_us" |
    sed -n 's/.*P50(\([0-9.]*\),.*P99(\([0-9.]*\),.*/\1 \2/p' | head -1
}

printf '\nEnvoy %s, %s worker(s); wrk %s thread(s), %s connections, %ss per case after %ss of warm-up\n\n' \
  "$("$ENVOY" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*/' | tr -d / | head -1)" "$WORKERS" "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP"
printf '%-7s %-10s %10s %10s %10s %7s\n' body listener 'req/s' 'p50 ms' 'p99 ms' errors
failed=0
for kib in $SIZES; do
  body="$work/body-$kib.json"
  make_body "$kib" "$body"
  for port in 10000 10001 10003; do
    status=$(curl -s -o "$work/reply" -w '%{http_code}' -H 'content-type: application/json' \
      --data-binary "@$body" "127.0.0.1:$port/v1/chat/completions")
    if [ "$status" != 200 ]; then
      echo "bench-proxy: the $kib KiB body got $status on :$port (the benchmark needs it allowed):" >&2
      cat "$work/reply" >&2; echo >&2; exit 1
    fi
  done
  declare -A rps p50 p99
  for port in 10001 10003 10000; do
    run "$port" "$body" "$WARMUP" >/dev/null
    read -r n secs l50 l99 errors < <(run "$port" "$body" "$DURATION")
    rps[$port]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    p50[$port]=$(awk -v v="$l50" 'BEGIN { printf "%.3f", v / 1000 }')
    p99[$port]=$(awk -v v="$l99" 'BEGIN { printf "%.3f", v / 1000 }')
    name=$(case $port in 10000) echo firewall ;; 10003) echo reference ;; *) echo plain ;; esac)
    printf '%-7s %-10s %10s %10s %10s %7s\n' "${kib}KiB" "$name" "${rps[$port]}" "${p50[$port]}" "${p99[$port]}" "$errors"
    [ "$errors" = 0 ] || failed=1
  done
  awk -v a="${rps[10000]}" -v b="${rps[10001]}" -v r="${rps[10003]}" -v x="${p50[10000]}" -v y="${p50[10001]}" -v k="$kib" \
    'BEGIN { printf "%-7s firewall/plain throughput %.2f, added p50 %+.3f ms (saturated: includes queueing); reference/plain %.2f, firewall/reference %.2f\n", k "KiB", (b > 0 ? a / b : 0), x - y, (b > 0 ? r / b : 0), (r > 0 ? a / r : 0) }'
  # Latency without queueing: one connection, one request at a time.
  declare -A q50
  for port in 10001 10003 10000; do
    read -r n secs l50 l99 errors < <(run "$port" "$body" "$DURATION" 1)
    q50[$port]=$(awk -v v="$l50" 'BEGIN { printf "%.3f", v / 1000 }')
    [ "$errors" = 0 ] || failed=1
  done
  read -r e50 e99 < <(eval_us) || true
  awk -v x="${q50[10000]}" -v y="${q50[10001]}" -v r="${q50[10003]}" -v k="$kib" -v e50="${e50:-?}" -v e99="${e99:-?}" \
    'BEGIN { printf "%-7s one connection: p50 plain %.3f ms, reference %.3f ms, firewall %.3f ms, added %+.3f ms (reference %+.3f ms); engine in V8 p50 %s us, p99 %s us\n\n", k "KiB", y, r, x, x - y, r - y, e50, e99 }'
  unset rps p50 p99 q50
done
[ "$failed" = 0 ] || { echo 'bench-proxy: some requests failed (see errors)' >&2; exit 1; }
