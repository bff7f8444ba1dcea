#!/usr/bin/env bash
# Proxy benchmark: the same benign OpenAI chat requests through Envoy with and
# without the firewall, in one run, same duration and concurrency; and through
# a reference Wasm filter that buffers and reads the body like the firewall but
# inspects nothing (benches/reference-filter), which separates what the Wasm
# runtime costs from what the engine costs; and through that filter configured
# to make one Aho-Corasick pass over the raw body for the pack's literals
# ("scan"): less work than any filter that looks for attack phrases in the
# text must do, so an upper bound on the throughput such a filter reaches here.
#
#   ENVOY=/path/to/envoy WASM=target/wasm32-wasip1/release/inference_firewall.wasm \
#   REFERENCE_WASM=target/wasm32-wasip1/release/reference_filter.wasm scripts/bench-proxy.sh
#   (make bench builds both wasm files, installs Envoy and wrk, and sets all three)
#
# Two workloads per body size:
#   fresh         the same body every time, no client identity: the segment
#                 cache is not used, every request is inspected in full.
#   conversation  what a chat client sends: an API key, the history resent and
#                 a last turn that is new in every request (a counter in it).
#                 The firewall remembers the history's segments per key and
#                 inspects the new turn (the rules still read it all).
#
# Knobs (environment): BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3),
# BENCH_CONNECTIONS (8), BENCH_THREADS (wrk threads, 1), BENCH_WORKERS (Envoy
# --concurrency, 1), BENCH_SIZES (KiB, "4 64"), BENCH_WORKLOADS ("fresh conversation").
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
WORKLOADS=${BENCH_WORKLOADS:-"fresh conversation"}
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

for port in 10000 10001 10002 10003 10004 $ADMIN; do
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
# Also writes FILE.prefix and FILE.suffix: the body split where the last turn
# ends, for the conversation workload to put a request counter there.
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
messages[-1]["content"] += " @@COUNTER@@"
text = json.dumps({"model": "bench-model", "messages": messages, "temperature": 0.2})
prefix, suffix = text.split("@@COUNTER@@")
with open(sys.argv[2], "w") as f:
    f.write(prefix + "(first)" + suffix)
with open(sys.argv[2] + ".prefix", "w") as f:
    f.write(prefix)
with open(sys.argv[2] + ".suffix", "w") as f:
    f.write(suffix)
EOF
}

cat >"$work/post.lua" <<'EOF'
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local path = os.getenv("BENCH_BODY")
wrk.method = "POST"
wrk.body = slurp(path)
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_WORKLOAD") == "conversation" then
  -- An API key and the history as is; the last turn new in every request.
  wrk.headers["Authorization"] = "Bearer sk-bench-client"
  local prefix, suffix = slurp(path .. ".prefix"), slurp(path .. ".suffix")
  local run = os.getenv("BENCH_RUN") or "0"
  local n = 0
  request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, prefix .. "(request " .. run .. "-" .. n .. ")" .. suffix)
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %.1f %d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
EOF

# run PORT BODY SECONDS [CONNECTIONS] -> "requests seconds p50_us p99_us errors"
# (BENCH_WORKLOAD from the loop below; each run numbers its last turns apart:
# a turn is never sent twice. The run number is small on purpose: a
# nanosecond timestamp there made the classifier flag, and sometimes block,
# the benign last turn "Thank you, that helps a lot. (request 1795...-57)".)
runs=0
run() {
  BENCH_BODY="$2" BENCH_RUN="$runs" wrk -t"$THREADS" -c"${4:-$CONNECTIONS}" -d"${3}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$1/v1/chat/completions" | awk '/^RESULT/ { print $2, $3, $4, $5, $6 }'
}

# The firewall's own evaluation time inside V8, from its histogram: the P50
# and P99 of the last stats interval (the single-connection run just before).
eval_us() {
  curl -s "127.0.0.1:$ADMIN/stats?filter=inference_firewall_eval_us" |
    sed -n 's/.*P50(\([0-9.na]*\),.*P99(\([0-9.na]*\),.*/\1 \2/p' | head -1
}

# Segments the firewall took from its cache and inspected in full, so far.
segments() {
  local stats
  stats=$(curl -s "127.0.0.1:$ADMIN/stats?filter=inference_firewall_segments_")
  printf '%s %s\n' \
    "$(sed -n 's/.*segments_cached_total: \([0-9]*\).*/\1/p' <<<"$stats" | head -1)" \
    "$(sed -n 's/.*segments_inspected_total: \([0-9]*\).*/\1/p' <<<"$stats" | head -1)"
}

printf '\nEnvoy %s, %s worker(s); wrk %s thread(s), %s connections, %ss per case after %ss of warm-up\n\n' \
  "$("$ENVOY" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*/' | tr -d / | head -1)" "$WORKERS" "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP"
printf '%-18s %-10s %10s %10s %10s %7s\n' body listener 'req/s' 'p50 ms' 'p99 ms' errors
failed=0
for kib in $SIZES; do
  body="$work/body-$kib.json"
  make_body "$kib" "$body"
  for port in 10000 10001 10003 10004; do
    status=$(curl -s -o "$work/reply" -w '%{http_code}' -H 'content-type: application/json' \
      --data-binary "@$body" "127.0.0.1:$port/v1/chat/completions")
    if [ "$status" != 200 ]; then
      echo "bench-proxy: the $kib KiB body got $status on :$port (the benchmark needs it allowed):" >&2
      cat "$work/reply" >&2; echo >&2; exit 1
    fi
  done
  for workload in $WORKLOADS; do
  export BENCH_WORKLOAD=$workload
  label="${kib}KiB $workload"
  declare -A rps p50 p99
  read -r cached0 inspected0 < <(segments)
  for port in 10001 10003 10004 10000; do
    runs=$((runs + 1)); run "$port" "$body" "$WARMUP" >/dev/null
    runs=$((runs + 1)); read -r n secs l50 l99 errors < <(run "$port" "$body" "$DURATION")
    rps[$port]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    p50[$port]=$(awk -v v="$l50" 'BEGIN { printf "%.3f", v / 1000 }')
    p99[$port]=$(awk -v v="$l99" 'BEGIN { printf "%.3f", v / 1000 }')
    name=$(case $port in 10000) echo firewall ;; 10003) echo reference ;; 10004) echo scan ;; *) echo plain ;; esac)
    printf '%-18s %-10s %10s %10s %10s %7s\n' "$label" "$name" "${rps[$port]}" "${p50[$port]}" "${p99[$port]}" "$errors"
    [ "$errors" = 0 ] || failed=1
  done
  awk -v a="${rps[10000]}" -v b="${rps[10001]}" -v r="${rps[10003]}" -v c="${rps[10004]}" -v x="${p50[10000]}" -v y="${p50[10001]}" -v k="$label" \
    'BEGIN { printf "%-18s firewall/plain throughput %.2f, added p50 %+.3f ms (saturated: includes queueing); reference/plain %.2f, scan/plain %.2f, firewall/reference %.2f\n", k, (b > 0 ? a / b : 0), x - y, (b > 0 ? r / b : 0), (b > 0 ? c / b : 0), (r > 0 ? a / r : 0) }'
  # Latency without queueing: one connection, one request at a time.
  declare -A q50
  for port in 10001 10003 10004 10000; do
    runs=$((runs + 1)); read -r n secs l50 l99 errors < <(run "$port" "$body" "$DURATION" 1)
    q50[$port]=$(awk -v v="$l50" 'BEGIN { printf "%.3f", v / 1000 }')
    [ "$errors" = 0 ] || failed=1
  done
  read -r e50 e99 < <(eval_us) || true
  read -r cached1 inspected1 < <(segments)
  printf '%-18s segments remembered %s, inspected in full %s\n' "$label" \
    "$(( ${cached1:-0} - ${cached0:-0} ))" "$(( ${inspected1:-0} - ${inspected0:-0} ))"
  awk -v x="${q50[10000]}" -v y="${q50[10001]}" -v r="${q50[10003]}" -v c="${q50[10004]}" -v k="$label" -v e50="${e50:-?}" -v e99="${e99:-?}" \
    'BEGIN { printf "%-18s one connection: p50 plain %.3f ms, reference %.3f ms, scan %.3f ms, firewall %.3f ms, added %+.3f ms (reference %+.3f ms, scan %+.3f ms); engine in V8 p50 %s us, p99 %s us\n\n", k, y, r, c, x, x - y, r - y, c - y, (e50 ~ /^[0-9.]+$/ ? sprintf("%.0f", e50) : "n/a"), (e99 ~ /^[0-9.]+$/ ? sprintf("%.0f", e99) : "n/a") }'
  unset rps p50 p99 q50
  done
done
[ "$failed" = 0 ] || { echo 'bench-proxy: some requests failed (see errors)' >&2; exit 1; }
