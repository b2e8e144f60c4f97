#!/usr/bin/env bash
# Benchmarks the PostgreSQL event store against raw pgbench inserts, in one run.
#
#   bench/pgbench/run.sh [seconds-per-measurement]   (default 10)
#
# For 1, 8 and 32 concurrent clients it runs pgbench with append.sql (one
# ~300-byte JSONB insert per transaction into a table shaped like es_events)
# and, right after, the Go benchmark BenchmarkStore/Append/events=1/writers=N
# (estest.RunBenchmarks on package postgres), then prints store appends/s ÷
# pgbench TPS. Then the batch (10, 100 events per append) and global-log read
# benchmarks. Needs pgbench and psql; the database is ACME_TEST_POSTGRES_URL
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

# pgbench_tps CLIENTS: TPS of append.sql on a freshly emptied table.
pgbench_tps() {
	psql "$URL" -q -c 'TRUNCATE pgbench_es.events' >/dev/null
	pgbench -n -M prepared -f bench/pgbench/append.sql -c "$1" -j "$(($1 < 2 ? 1 : 2))" -T "$T" "$URL" 2>/dev/null |
		awk '/^tps/ {printf "%.0f", $3}'
}

# go_metric PATTERN UNIT: the metric UNIT of the Go benchmark matching PATTERN.
go_metric() {
	"$BIN" -test.run '^$' -test.bench "$1" -test.benchtime "${T}s" 2>/dev/null |
		awk -v unit="$2" '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == unit) v = $(i-1) } END { printf "%.0f", v }'
}

echo "PostgreSQL: $(psql "$URL" -Atc 'SHOW server_version'), $(nproc) CPUs, ${T}s per measurement, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-8s %14s %18s %8s %8s\n' writers "pgbench TPS" "store appends/s" ratio target
for w in 1 8 32; do
	tps=$(pgbench_tps "$w")
	aps=$(go_metric "^BenchmarkStore\$/^Append\$/^events=1\$/^writers=$w\$" appends/s)
	target=-
	[ "$w" = 8 ] && target=">= 1.0"
	[ "$w" = 32 ] && target=">= 1.5"
	printf '%-8s %14s %18s %8s %8s\n' "$w" "$tps" "$aps" "$(awk -v a="$aps" -v b="$tps" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')" "$target"
done
echo
printf '%-22s %14s %10s\n' benchmark events/s target
for n in 10 100; do
	for w in 1 8 32; do
		target=-
		[ "$n" = 100 ] && target=">= 100000"
		printf '%-22s %14s %10s\n' "events=$n writers=$w" "$(go_metric "^BenchmarkStore\$/^Append\$/^events=$n\$/^writers=$w\$" events/s)" "$target"
	done
done
printf '%-22s %14s %10s\n' "ReadAll" "$(go_metric '^BenchmarkStore$/^ReadAll$' events/s)" ">= 200000"
