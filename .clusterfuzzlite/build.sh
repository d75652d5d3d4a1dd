#!/bin/bash -eu
# ClusterFuzzLite builds exactly as OSS-Fuzz does: oss-fuzz/build.sh installs every fuzz target
# with its seed corpus, options and dictionary into $OUT.
exec bash "$SRC/ptdiff/oss-fuzz/build.sh" "$@"
