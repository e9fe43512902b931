#!/usr/bin/env bash
# Fuzzes every target (or the ones named) for SECONDS each, two at a time on one core each, then
# minimises each corpus with `cargo fuzz cmin` and prints a summary: runs, execs/s, corpus size,
# and any crash, hang or leak libFuzzer saved under fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh SECONDS [TARGET...]
#
# Each target starts from fuzz/corpus/<target>/ (grown and minimised in place: commit it) and
# fuzz/seeds/<target>/ (from gen_seeds.py, read only). AddressSanitizer is used on the stable
# toolchain through RUSTC_BOOTSTRAP=1; FUZZ_SANITIZER=none fuzzes without it (faster, still
# catches every panic). FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode so that it goes on after a
# crash and can find several. Logs: fuzz/target/run-all/<target>.log. Exits 1 if anything
# crashed; see fuzz/README.md for turning a crash into a regression test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

secs=${1:?usage: fuzz/run-all.sh SECONDS [TARGET...]}
shift
if (($# > 0)); then
    targets=("$@")
else
    targets=()
    for f in fuzz_targets/*.rs; do
        t=${f#fuzz_targets/}
        targets+=("${t%.rs}")
    done
fi
for t in "${targets[@]}"; do
    [[ -f fuzz_targets/$t.rs ]] || { echo "run-all: no target $t in fuzz/fuzz_targets/" >&2; exit 2; }
    [[ -d seeds/$t ]] || { echo "run-all: no seeds for $t: run python3 fuzz/gen_seeds.py" >&2; exit 2; }
done

export RUSTC_BOOTSTRAP=1
san=${FUZZ_SANITIZER:-address}
logs=target/run-all
mkdir -p "$logs"
extra=(-timeout=10 -print_final_stats=1)
if [[ ${FUZZ_KEEP_GOING:-0} == 1 ]]; then
    extra+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi

echo "run-all: building ${#targets[@]} targets (sanitizer: $san)"
cargo fuzz build -s "$san" >"$logs/build.log" 2>&1 || { cat "$logs/build.log" >&2; exit 2; }

count_artifacts() {
    if [[ -d artifacts/$1 ]]; then find "artifacts/$1" -type f | wc -l; else echo 0; fi
}

fuzz_one() {
    local t=$1
    mkdir -p "corpus/$t"
    count_artifacts "$t" >"$logs/$t.artifacts-before"
    set +e
    cargo fuzz run -s "$san" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" "${extra[@]}" >"$logs/$t.log" 2>&1
    echo $? >"$logs/$t.rc"
    set -e
}

echo "run-all: fuzzing each for ${secs}s, two at a time"
running=0
for t in "${targets[@]}"; do
    if ((running == 2)); then
        wait -n || true
        running=$((running - 1))
    fi
    echo "  start $t"
    fuzz_one "$t" &
    running=$((running + 1))
done
wait

echo "run-all: minimising corpora"
for t in "${targets[@]}"; do
    if [[ -n $(ls -A "corpus/$t") ]]; then
        cargo fuzz cmin -s "$san" "$t" "corpus/$t" >"$logs/$t.cmin.log" 2>&1 ||
            echo "  cmin $t failed: see fuzz/$logs/$t.cmin.log" >&2
    fi
done

status=0
printf '\n%-18s %-7s %12s %9s %7s %9s\n' target result runs exec/s inputs bytes
for t in "${targets[@]}"; do
    rc=$(cat "$logs/$t.rc")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    if [[ -z $runs ]]; then
        # Fork mode prints no final stats; take the last status line.
        runs=$(grep -oE '^#[0-9]+' "$logs/$t.log" | tail -1 | tr -d '#')
        speed=$(grep -oE 'exec/s: [0-9]+' "$logs/$t.log" | tail -1 | grep -oE '[0-9]+')
    fi
    files=$(find "corpus/$t" -type f | wc -l)
    bytes=$(find "corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    after=$(count_artifacts "$t")
    result=ok
    if [[ $rc != 0 ]] || ((after > $(cat "$logs/$t.artifacts-before"))); then
        result=CRASH
        status=1
    fi
    printf '%-18s %-7s %12s %9s %7s %9s\n' "$t" "$result" "${runs:-?}" "${speed:-?}" "$files" "$bytes"
done
echo
echo "total corpus: $(du -sh --apparent-size corpus | cut -f1) in $(find corpus -type f | wc -l) files"
if ((status != 0)); then
    echo "run-all: crashes saved under fuzz/artifacts/; minimise with"
    echo "  RUSTC_BOOTSTRAP=1 cargo fuzz tmin -s $san TARGET fuzz/artifacts/TARGET/crash-..."
    echo "then copy the result to fuzz/regressions/TARGET/ (see fuzz/README.md)"
    grep -h -A3 -E '^thread .* panicked|ERROR: libFuzzer' "$logs"/*.log | head -40 || true
fi
exit "$status"
