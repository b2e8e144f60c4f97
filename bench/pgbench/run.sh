#!/usr/bin/env bash
# Benchmarks the PostgreSQL event store against raw pgbench inserts, in one run.
#
#   bench/pgbench/run.sh [seconds-per-measurement]   (default 10)
#
# For 1, 8 and 32 concurrent clients it runs pgbench with append.sql (one
# ~300-byte JSONB insert per transaction into a table shaped like es_events)
# and, right after, the Go benchmark BenchmarkStore/Append/events=1/writers=N
# (estest.RunBenchmarks on package postgres), then prints store appends/s ÷
# pgbench TPS. Then the same for 100-event appends (append100.sql), the
# 10-event appends, and the global-log read against read.sql. Needs pgbench and psql; the database is ACME_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
set -euo pipefail
cd "$(dirname "$0")/../.."
URL="${ACME_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export ACME_TEST_POSTGRES_URL="$URL"
T="${1:-10}"
BIN="$(mktemp -d)/postgres.test"
trap 'psql "$URL" -q -c "DROP SCHEMA IF EXISTS pgbench_es CASCADE" >/dev/null 2>&1 || true; rm -rf "$(dirname "$BIN")"' EXIT

go test -c -o "$BIN" ./postgres/
psql "$URL" -q -v ON_ERROR_STOP=1 -f bench/pgbench/schema.sql 2>/dev/null

# pgbench_tps CLIENTS [SCRIPT [keep]]: TPS of SCRIPT (default append.sql), on a
# freshly emptied table unless "keep".
pgbench_tps() {
	[ "${3:-}" = keep ] || psql "$URL" -q -c 'TRUNCATE pgbench_es.events' >/dev/null
	pgbench -n -M prepared -D payload="$(cat bench/pgbench/payload.json)" -f "bench/pgbench/${2:-append.sql}" -c "$1" -j "$(($1 < 2 ? 1 : 2))" -T "$T" "$URL" 2>/dev/null |
		awk '/^tps/ {printf "%.0f", $3}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }

# go_metric PATTERN UNIT: the metric UNIT of the Go benchmark matching PATTERN.
go_metric() {
	"$BIN" -test.run '^$' -test.bench "$1" -test.benchtime "${T}s" 2>/dev/null |
		awk -v unit="$2" '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == unit) v = $(i-1) } END { printf "%.0f", v }'
}

echo "PostgreSQL $(psql "$URL" -Atc 'SHOW server_version'), $(nproc) CPUs, ${T}s per measurement, load $(cut -d' ' -f1-3 /proc/loadavg) (start)"
echo
echo "Single-event appends (raw: append.sql, one 1-row INSERT per transaction)"
printf '%-8s %14s %18s %8s %8s\n' writers "pgbench TPS" "store appends/s" ratio target
for w in 1 8 32; do
	tps=$(pgbench_tps "$w")
	aps=$(go_metric "^BenchmarkStore\$/^Append\$/^events=1\$/^writers=$w\$" appends/s)
	target=-
	[ "$w" = 8 ] && target=">= 1.0"
	[ "$w" = 32 ] && target=">= 1.5"
	printf '%-8s %14s %18s %8s %8s\n' "$w" "$tps" "$aps" "$(ratio "$aps" "$tps")" "$target"
done
echo
echo "Batches of 100 events per append (raw: append100.sql, one 100-row INSERT per transaction)"
printf '%-8s %14s %18s %8s %10s\n' writers "raw events/s" "store events/s" ratio target
for w in 1 8 32; do
	raw=$(($(pgbench_tps "$w" append100.sql) * 100))
	eps=$(go_metric "^BenchmarkStore\$/^Append\$/^events=100\$/^writers=$w\$" events/s)
	printf '%-8s %14s %18s %8s %10s\n' "$w" "$raw" "$eps" "$(ratio "$eps" "$raw")" ">= 100000"
done
echo
echo "Batches of 10 events per append"
printf '%-8s %18s\n' writers "store events/s"
for w in 1 8 32; do
	printf '%-8s %18s\n' "$w" "$(go_metric "^BenchmarkStore\$/^Append\$/^events=10\$/^writers=$w\$" events/s)"
done
echo
echo "Global-log read, batches of 1,000 (raw: read.sql on 50,000 events, one client)"
psql "$URL" -q -f bench/pgbench/fill.sql >/dev/null
raw=$(($(pgbench_tps 1 read.sql keep) * 1000))
eps=$(go_metric '^BenchmarkStore$/^ReadAll$' events/s)
printf '%-8s %14s %18s %8s %10s\n' "" "raw events/s" "store events/s" ratio target
printf '%-8s %14s %18s %8s %10s\n' ReadAll "$raw" "$eps" "$(ratio "$eps" "$raw")" ">= 200000"
echo
echo "load $(cut -d' ' -f1-3 /proc/loadavg) (end)"
