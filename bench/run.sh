#!/usr/bin/env bash
# End-to-end benchmark of the release binary on synthetic organisation-scale specs.
#
#   bench/run.sh [--runs K] [N ...]      default N: 100 1000 10000 50000 org10000 org50000;
#                                        default K: 3 (or RUNS=K)
#
# A size `orgN` is the organisation scenario (`synth --org`: EKS clusters of ~200 service
# accounts into GCP, AWS accounts of ~150 EC2 roles, providers split by crossfed's sharding).
# For each N it generates a spec with `examples/synth.rs`, then times K runs of `crossfed
# validate`, `render` into an empty directory, `render` into the up-to-date directory and `check`
# of it, plus the floor for writing the same tree: `cp -r` of the rendered tree and `sync`. It
# prints a Markdown table (medians), the growth ratio 10,000/1,000 per command, and PASS/FAIL
# per target; it exits 1 when a target fails or a command exits non-zero, 2 on a usage error.
#
# Environment:
#   CROSSFED=PATH   time this binary instead of building target/release/crossfed
#   SYNTH=PATH      generate specs with this binary instead of building the synth example
#   RUNS=K          runs per command (like --runs)
#   BENCH_DIR=DIR   parent of the temporary work directory (default target/bench: the same disk
#                   as the project, so the cp floor and render write to the same file system)
#
# Each command first runs once untimed under GNU time (`/usr/bin/time`, Debian package `time`)
# for its peak RSS, which also warms the page cache; then K timed runs start it bare, with the
# wall time read by the shell around it (microseconds, from bash's EPOCHREALTIME; it includes
# starting the process, as a user's shell would). Every run starts after a `sync`, so no run
# pays for an earlier one's writes; `sync` flushes the whole machine's dirty pages, so run it on a quiet machine (the
# table's header gives the load average at the start). Not part of `cargo test`: it takes
# minutes at N = 10,000 and more.
set -euo pipefail
export LC_ALL=C # `.` as the decimal point in EPOCHREALTIME and printf

cd "$(dirname "$0")/.."

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

runs=${RUNS:-3}
sizes=()
while (($#)); do
  case $1 in
    --runs) (($# >= 2)) || usage; runs=$2; shift 2 ;;
    --runs=*) runs=${1#--runs=}; shift ;;
    -h | --help) usage ;;
    -*) echo "bench/run.sh: unknown option \`$1\`" >&2; usage ;;
    *) sizes+=("$1"); shift ;;
  esac
done
((${#sizes[@]})) || sizes=(100 1000 10000 50000 org10000 org50000)
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --runs wants a positive integer, not \`$runs\`" >&2; exit 2; }
for n in "${sizes[@]}"; do
  [[ $n =~ ^(org)?[1-9][0-9]*$ ]] || { echo "bench/run.sh: a size is a positive integer, or org and one, not \`$n\`" >&2; exit 2; }
done

gnu_time=/usr/bin/time
if ! "$gnu_time" -f '%M' -o /dev/null true >/dev/null 2>&1; then
  echo "bench/run.sh: needs GNU time at $gnu_time for peak memory (Debian/Ubuntu: apt-get install time)" >&2
  exit 2
fi

# ---- binaries
target_dir=${CARGO_TARGET_DIR:-target}
if [[ -z ${CROSSFED:-} ]]; then
  echo "--- cargo build --release --bin crossfed --example synth" >&2
  cargo build --release --bin crossfed --example synth >&2
  CROSSFED=$target_dir/release/crossfed
  SYNTH=${SYNTH:-$target_dir/release/examples/synth}
elif [[ -z ${SYNTH:-} ]]; then
  echo "--- cargo build --release --example synth" >&2
  cargo build --release --example synth >&2
  SYNTH=$target_dir/release/examples/synth
fi
for bin in "$CROSSFED" "$SYNTH"; do
  [[ -x $bin ]] || { echo "bench/run.sh: \`$bin\` is not an executable" >&2; exit 2; }
done
small_spec=fixtures/valid/quickstart.yaml
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown)
echo "--- crossfed: $CROSSFED ($("$CROSSFED" --version 2>/dev/null || echo 'no --version'))" >&2

# ---- work directory
bench_dir=${BENCH_DIR:-$target_dir/bench}
mkdir -p "$bench_dir"
work=$(mktemp -d "$bench_dir/run.XXXXXX")
# shellcheck disable=SC2317,SC2329 # called by the trap
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${EPOCHREALTIME:-} ]]; then
  echo "bench/run.sh: needs bash 5 or later (EPOCHREALTIME), not $BASH_VERSION" >&2
  exit 2
fi

# run_timed CMD...: runs CMD once after a sync and sets t_rc. Run 0 (the warm-up) runs under
# GNU time and sets t_kb (peak RSS); the others run bare and set t_us (wall time).
run_timed() {
  local start end
  sync
  t_rc=0
  if ((r == 0)); then
    "$gnu_time" -f '%M' -o "$work/rss" "$@" >"$work/stdout" 2>"$work/stderr" || t_rc=$?
    # GNU time writes "Command exited with non-zero status N" before the format's line.
    t_kb=$(tail -n 1 "$work/rss")
    [[ $t_kb =~ ^[0-9]+$ ]] || t_kb=0
  else
    # Read the clock without a subshell, so the window holds only the command.
    start=${EPOCHREALTIME/./}
    "$@" >"$work/stdout" 2>"$work/stderr" || t_rc=$?
    end=${EPOCHREALTIME/./}
    t_us=$((end - start))
  fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }
human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MB", b / 1048576; else if (b >= 1024) printf "%.1f KB", b / 1024; else printf "%d B", b }'; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

declare -A med=() peak=() err=() spec_bytes=() tree_files=() tree_bytes=()
commands=(validate render-empty cp-sync render-uptodate check)

# One run of command $1 for size $n, run number $2, 0 being the warm-up (uses $spec, $tree).
run_one() {
  local what=$1 r=$2
  case $what in
    validate) run_timed "$CROSSFED" validate "$spec" ;;
    render-empty)
      rm -rf -- "$work/empty"
      mkdir "$work/empty"
      run_timed "$CROSSFED" render "$spec" -o "$work/empty"
      # The last run's output is the up-to-date tree of the next commands.
      if ((t_rc == 0 && r == runs)); then mv -- "$work/empty" "$tree"; fi
      ;;
    cp-sync)
      rm -rf -- "$work/copy"
      # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
      run_timed sh -c 'cp -r -- "$1" "$2" && sync' sh "$tree" "$work/copy"
      ;;
    render-uptodate) run_timed "$CROSSFED" render "$spec" -o "$tree" ;;
    check) run_timed "$CROSSFED" check "$spec" -o "$tree" ;;
  esac
}

# measure COMMAND: a warm-up and RUNS timed runs; records the median wall time and the peak
# RSS, or the error.
measure() {
  local what=$1 key="$n:$1" r times=() kb=0
  if [[ $what != validate && $what != render-empty && ! -d $tree ]]; then
    err[$key]="not run: render into an empty directory failed"
    return
  fi
  for ((r = 0; r <= runs; r++)); do
    if ((r == 0)); then echo "    $what warm-up (peak RSS)" >&2; else echo "    $what run $r/$runs" >&2; fi
    run_one "$what" "$r"
    if ((t_rc != 0)); then
      err[$key]="exit $t_rc: $(grep -v '^Command exited' "$work/stderr" | head -n 4 | tr '\n' ' ' | tr -s ' ' | cut -c 1-300)"
      return
    fi
    if ((r == 0)); then kb=$t_kb; else times+=("$t_us"); fi
  done
  med[$key]=$(printf '%s\n' "${times[@]}" | median)
  peak[$key]=$kb
  rm -rf -- "$work/empty" "$work/copy"
}

for n in "${sizes[@]}"; do
  echo "--- N = $n" >&2
  spec=$work/spec-$n.yaml
  tree=$work/tree-$n
  scenario=()
  if [[ $n == org* ]]; then scenario=(--org); fi
  if ! "$SYNTH" --federations "${n#org}" "${scenario[@]}" >"$spec" 2>"$work/stderr"; then
    for what in "${commands[@]}"; do
      err[$n:$what]="the synth example failed: $(head -n 4 "$work/stderr" | tr '\n' ' ')"
    done
    continue
  fi
  spec_bytes[$n]=$(stat -c %s "$spec")
  for what in "${commands[@]}"; do
    measure "$what"
    # The rendered tree's size, while it exists.
    if [[ $what == render-empty && -d $tree ]]; then
      tree_files[$n]=$(find "$tree" -type f | wc -l)
      tree_bytes[$n]=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    fi
  done
  rm -rf -- "$tree" "$spec"
done

# ---- table
cell() {
  local key=$1:$2
  if [[ -n ${med[$key]:-} ]]; then secs "${med[$key]}"; else echo FAIL; fi
}
echo
echo "crossfed: \`$CROSSFED\`; each time is the median of $runs run(s); $(nproc 2>/dev/null || echo '?') CPUs, load average $load_start at the start"
echo
echo "| N | spec size | files | bytes | validate s | render-empty s | cp+sync s | render-uptodate s | check s | peak MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  max_kb=0
  for what in validate render-empty render-uptodate check; do
    kb=${peak[$n:$what]:-0}
    if ((kb > max_kb)); then max_kb=$kb; fi
  done
  label=$n
  if [[ $n == org* ]]; then label="${n#org} (org)"; fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
    "$( [[ -n ${spec_bytes[$n]:-} ]] && human "${spec_bytes[$n]}" || echo -)" \
    "${tree_files[$n]:--}" \
    "$( [[ -n ${tree_bytes[$n]:-} ]] && human "${tree_bytes[$n]}" || echo -)" \
    "$(cell "$n" validate)" "$(cell "$n" render-empty)" "$(cell "$n" cp-sync)" \
    "$(cell "$n" render-uptodate)" "$(cell "$n" check)" \
    "$( ((max_kb > 0)) && mb "$max_kb" || echo -)"
done

has_size() {
  local s
  for s in "${sizes[@]}"; do [[ $s == "$1" ]] && return 0; done
  return 1
}

if has_size 1000 && has_size 10000; then
  echo
  echo "Growth 10,000 / 1,000 (linear would be 10):"
  echo
  echo "| command | 1,000 s | 10,000 s | ratio |"
  echo "|---|---:|---:|---:|"
  for what in "${commands[@]}"; do
    a=${med[1000:$what]:-} b=${med[10000:$what]:-}
    ratio=-
    [[ -n $a && -n $b ]] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
    echo "| $what | $(cell 1000 "$what") | $(cell 10000 "$what") | $ratio |"
  done
fi

# ---- targets
echo
failed=0
verdict() { # verdict PASS|FAIL|SKIP TEXT
  echo "$1  $2"
  [[ $1 == FAIL ]] && failed=1
  return 0
}
# below KEY LIMIT_US TEXT: the command's median is under the limit.
below() {
  local key=$1 limit=$2 text=$3 n=${1%%:*} value
  value=${med[$key]:-}
  if [[ $n != small ]] && ! has_size "$n"; then
    verdict SKIP "$text (N = $n not run)"
  elif [[ -z $value ]]; then
    verdict FAIL "$text (${err[$key]:-no result})"
  elif ((value < limit)); then
    verdict PASS "$text ($(secs "$value") s)"
  else
    verdict FAIL "$text ($(secs "$value") s)"
  fi
}

below 10000:validate 500000 "validate at 10,000 < 0.5 s"
below 10000:check 1000000 "check at 10,000 < 1 s"
below 10000:render-uptodate 1000000 "render into an up-to-date directory at 10,000 < 1 s"
if ! has_size 10000; then
  verdict SKIP "render into an empty directory at 10,000 <= 2 x (cp -r + sync) (N = 10000 not run)"
elif [[ -n ${med[10000:render-empty]:-} && -n ${med[10000:cp-sync]:-} ]]; then
  a=${med[10000:render-empty]} b=${med[10000:cp-sync]}
  text="render into an empty directory at 10,000 <= 2 x (cp -r + sync) ($(secs "$a") s vs 2 x $(secs "$b") s)"
  if ((a <= 2 * b)); then verdict PASS "$text"; else verdict FAIL "$text"; fi
else
  verdict FAIL "render into an empty directory at 10,000 <= 2 x (cp -r + sync) (${err[10000:render-empty]:-${err[10000:cp-sync]:-no result}})"
fi
for what in validate render-empty render-uptodate check; do
  key=10000:$what
  kb=${peak[$key]:-}
  if ! has_size 10000; then
    verdict SKIP "peak memory of $what at 10,000 < 200 MB (N = 10000 not run)"
  elif [[ -z $kb ]]; then
    verdict FAIL "peak memory of $what at 10,000 < 200 MB (${err[$key]:-no result})"
  elif ((kb < 200 * 1024)); then
    verdict PASS "peak memory of $what at 10,000 < 200 MB ($(mb "$kb") MB)"
  else
    verdict FAIL "peak memory of $what at 10,000 < 200 MB ($(mb "$kb") MB)"
  fi
done
for what in validate render-empty render-uptodate check; do
  text="growth of $what 10,000 / 1,000 < 14"
  if ! has_size 1000 || ! has_size 10000; then
    verdict SKIP "$text (needs both sizes)"
  elif [[ -n ${med[1000:$what]:-} && -n ${med[10000:$what]:-} ]]; then
    a=${med[1000:$what]} b=${med[10000:$what]}
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
    if ((b < 14 * a)); then verdict PASS "$text ($ratio)"; else verdict FAIL "$text ($ratio)"; fi
  else
    verdict FAIL "$text (${err[10000:$what]:-${err[1000:$what]:-no result}})"
  fi
done
# The small-spec target: the README's bundled example, the size of spec most teams keep (a few
# federations), timed over more runs than the large sizes since each takes milliseconds.
r=0
run_timed "$CROSSFED" validate "$small_spec"
if ((t_rc != 0)); then
  verdict FAIL "validate of the bundled example ($small_spec) exited $t_rc"
else
  small_times=()
  for ((r = 1; r <= 10 * runs; r++)); do
    run_timed "$CROSSFED" validate "$small_spec"
    small_times+=("$t_us")
  done
  med[small:validate]=$(printf '%s\n' "${small_times[@]}" | median)
  below small:validate 10000 "validate of a small spec ($small_spec, median of $((10 * runs))) < 10 ms"
fi
# Every failed command is a failure, whatever target it belongs to.
for n in "${sizes[@]}"; do
  for what in "${commands[@]}"; do
    if [[ -n ${err[$n:$what]:-} ]]; then verdict FAIL "$what at N = $n: ${err[$n:$what]}"; fi
  done
done

exit "$failed"
