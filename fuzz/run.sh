#!/usr/bin/env bash
# Fuzzes the HTTP/1.1 request parser with libFuzzer and AddressSanitizer.
#
#   fuzz/run.sh [seconds]      (default 60)
#
# Builds .build/fuzz/http-parser from Sources/HTTPCore/{Parsing,Messages} and
# fuzz/HTTPParserFuzz.swift, then runs it for the given time. The committed seeds in
# fuzz/corpus/ are only read; inputs the fuzzer finds go to .build/fuzz/corpus/ and crash
# reproducers to .build/fuzz/artifacts/. Exits non-zero on a crash (or a failed build),
# after printing the libFuzzer summary. Reproduce a crash with:
#   .build/fuzz/http-parser .build/fuzz/artifacts/crash-<hash>
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build/fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

echo "building $out/http-parser"
# ld.gold warns about every ASan helper symbol ("Cannot export local symbol"): noise, filtered.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HTTPParserFuzz \
    "$root"/Sources/HTTPCore/Parsing/*.swift \
    "$root"/Sources/HTTPCore/Messages/*.swift \
    "$root/fuzz/HTTPParserFuzz.swift" \
    -o "$out/http-parser" >"$out/build.log" 2>&1; then
    grep -v 'Cannot export local symbol' "$out/build.log"
    echo "fuzzer build failed"
    exit 2
fi
grep -v 'Cannot export local symbol' "$out/build.log" || true

log="$out/last-run.log"
echo "fuzzing for ${seconds}s (log: $log)"
set +e
"$out/http-parser" "$out/corpus" "$root/fuzz/corpus" \
    -max_total_time="$seconds" -max_len=20000 -timeout=10 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e

if [ "$status" -ne 0 ]; then
    echo "FUZZER FOUND A PROBLEM (exit status $status); end of the log:"
    tail -n 60 "$log"
else
    grep -E '^(INFO: Seed|#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' "$log" || true
fi
echo "--- summary"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
crashes=$(find "$out/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -newer "$out/http-parser" | wc -l)
echo "crashes: $crashes (artifacts in $out/artifacts)"
echo "working corpus: $(find "$out/corpus" -type f | wc -l) inputs"
exit "$status"
