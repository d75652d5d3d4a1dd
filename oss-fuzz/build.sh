#!/bin/bash -eu
# Copyright 2026 The ptdiff Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
################################################################################
# Builds ptdiff's fuzz targets for OSS-Fuzz / ClusterFuzzLite and installs into $OUT, per target
# (targets as `cargo fuzz list` reads them from fuzz/Cargo.toml):
#   $OUT/<target>                   the libFuzzer binary
#   $OUT/<target>_seed_corpus.zip   every file of corpus/<target>/
#   $OUT/<target>.options           libFuzzer options
#   $OUT/<target>.dict              when oss-fuzz/<target>.dict exists (scenario_text)
#
# Source: $PTDIFF_SRC, else $SRC/ptdiff (OSS-Fuzz), else the checkout holding this script.
# Every branch builds with `cargo fuzz build -O -a --no-trace-compares`, the flags of
# `cargo xtask fuzz`: optimized, with debug assertions and overflow checks, without comparison
# tracing (measured to find bugs faster, with and without ASan). The sanitizer is OSS-Fuzz's
# choice: with $SANITIZER set (OSS-Fuzz, ClusterFuzzLite), plain `cargo`: the image's nightly and
# compile's RUSTFLAGS; with SANITIZER=coverage the image's `cargo` wrapper turns the build into
# an unoptimized coverage build without debug assertions. Without $SANITIZER (a local run, e.g.
# `cargo xtask oss-fuzz-check`): `cargo +nightly` (AddressSanitizer) when nightly is installed
# and PTDIFF_FUZZ_TOOLCHAIN is not `stable`, else stable with `-s none`.
set -eux

: "${OUT:?OUT must name the output directory}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${PTDIFF_SRC:-}" ]; then
  src="$PTDIFF_SRC"
elif [ -n "${SRC:-}" ] && [ -f "$SRC/ptdiff/fuzz/Cargo.toml" ]; then
  src="$SRC/ptdiff"
else
  src="$(dirname "$script_dir")"
fi
cd "$src"
mkdir -p "$OUT"

# 1. Build every target.
if [ -n "${SANITIZER:-}" ]; then
  cargo fuzz build -O -a --no-trace-compares
elif [ "${PTDIFF_FUZZ_TOOLCHAIN:-}" != stable ] && cargo +nightly --version >/dev/null 2>&1; then
  cargo +nightly fuzz build -O -a --no-trace-compares
else
  cargo fuzz build -O -a --no-trace-compares -s none
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
target_dir="${CARGO_TARGET_DIR:-$src/fuzz/target}"
bin_dir="$target_dir/$triple/release"

# Writes zip archive $1 holding the files $2... (flat: no directories inside).
make_zip() {
  local archive="$1"
  shift
  rm -f "$archive"
  if command -v zip >/dev/null 2>&1; then
    zip -q -j "$archive" "$@"
  else
    python3 - "$archive" "$@" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for path in sys.argv[2:]:
        z.write(path, os.path.basename(path))
PY
  fi
}

# 2. Install each binary with its seed corpus, options and dictionary.
targets="$(cargo fuzz list)"
for target in $targets; do
  cp "$bin_dir/$target" "$OUT/$target"
  seeds=("corpus/$target"/*)
  if [ -e "${seeds[0]}" ]; then
    make_zip "$OUT/${target}_seed_corpus.zip" "${seeds[@]}"
  fi
  {
    printf '[libfuzzer]\nmax_len = 4096\ntimeout = 10\n'
    if [ -f "oss-fuzz/$target.dict" ]; then
      cp "oss-fuzz/$target.dict" "$OUT/$target.dict"
      printf 'dict = %s.dict\n' "$target"
    fi
  } >"$OUT/$target.options"
done
ls -l "$OUT"
