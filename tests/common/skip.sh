#!/bin/sh
# Stands in for a test whose tool is missing: says which and why, exits 77 (meson: skipped).
echo "skipped: $1" >&2
exit 77
