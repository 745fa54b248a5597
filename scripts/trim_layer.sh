#!/usr/bin/env bash
# Remove from an installed site-packages tree what Lambda never imports, so SharedCodeLayer plus the
# largest function stays under Lambda's 250 MB unzipped limit (benchmarks/cold_start.py prints both):
# - bytecode caches, package test suites, C/C++ headers, Cython sources, static libraries;
# - pyarrow's Flight RPC (not imported by pyarrow itself; nothing here uses pyarrow.flight) and its
#   C++ test module, and the two extra copies wheels carry of each shared library (the loader needs
#   only the SONAME file, e.g. libarrow_python.so.2600);
# - botocore's API models of services no function calls (the list below; tests/infra checks that every
#   boto3.client("...") in the_alchemiser/ is on it).
set -euo pipefail
root="${1:?usage: trim_layer.sh <site-packages dir>}"

BOTOCORE_SERVICES="s3 events dynamodb lambda sqs sns secretsmanager ssm sts logs cloudwatch scheduler kms"

find "$root" -depth -type d -name '__pycache__' -exec rm -rf {} +
# package test suites (pandas/tests, numpy/*/tests, ...); pandas._testing, which pandas imports, stays
find "$root" -depth -mindepth 2 -type d -name tests -exec rm -rf {} +
find "$root" -type d -path '*/pyarrow/include' -prune -exec rm -rf {} +
find "$root" -type d -path '*/numpy/_core/include' -prune -exec rm -rf {} +
find "$root" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.hpp' -o -name '*.a' \) -delete

if [[ -d "$root/pyarrow" ]]; then
    (
        cd "$root/pyarrow"
        rm -f libarrow_flight.so* libarrow_python_flight.so* _flight.cpython-*.so flight.py _pyarrow_cpp_tests.cpython-*.so
        # keep one file per library: the name the dynamic loader asks for (its SONAME)
        for lib in lib*.so; do
            [[ -e "$lib" ]] || continue
            soname="$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
            if [[ -n "$soname" && "$soname" != "$lib" && -e "$soname" ]]; then
                rm -f "$lib" "$soname".[0-9]*
            fi
        done
    )
fi

if [[ -d "$root/botocore/data" ]]; then
    for service_dir in "$root"/botocore/data/*/; do
        service="$(basename "$service_dir")"
        [[ " $BOTOCORE_SERVICES " == *" $service "* ]] || rm -rf "$service_dir"
    done
fi
