#!/usr/bin/env bash
# Remove from an installed site-packages tree what Lambda never imports, so the layers plus the largest
# function stay small (benchmarks/cold_start.py and tests/infra/test_layer_build.py measure them):
# - bytecode caches (rebuilt for python3.12 by build_layer.sh when it can), package test suites, C/C++
#   headers and sources, Cython sources, static libraries, type stubs (.pyi: read by type checkers only);
# - pip's install record (RECORD: only `pip uninstall` reads it) and SBOM files in .dist-info; METADATA
#   and the licences stay (importlib.metadata reads METADATA);
# - Powertools' bundled Swagger UI (the REST event handler's docs page; no function serves one);
# - botocore's API models of services no function calls (the list below; tests/infra checks that every
#   boto3.client("...") in the_alchemiser/ is on it).
set -euo pipefail
root="${1:?usage: trim_layer.sh <site-packages dir>}"

BOTOCORE_SERVICES="s3 events dynamodb lambda sqs sns secretsmanager ssm sts logs cloudwatch scheduler kms"

find "$root" -depth -type d -name '__pycache__' -exec rm -rf {} +
find "$root" -type f -name '*.pyc' -delete
# package test suites (pandas/tests, numpy/*/tests, ...); pandas._testing, which pandas imports, stays
find "$root" -depth -mindepth 2 -type d -name tests -exec rm -rf {} +
find "$root" -type d -path '*/numpy/_core/include' -prune -exec rm -rf {} +
find "$root" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.hpp' \
    -o -name '*.a' -o -name '*.c' -o -name '*.cpp' -o -name '*.pyi' \) -delete
find "$root" -type f -path '*.dist-info/RECORD' -delete
find "$root" -depth -type d -path '*.dist-info/sboms' -exec rm -rf {} +
find "$root" -type f -path '*/aws_lambda_powertools/event_handler/openapi/swagger_ui/*' \
    \( -name '*.js' -o -name '*.css' -o -name '*.map' \) -delete

if [[ -d "$root/botocore/data" ]]; then
    for service_dir in "$root"/botocore/data/*/; do
        service="$(basename "$service_dir")"
        [[ " $BOTOCORE_SERVICES " == *" $service "* ]] || rm -rf "$service_dir"
    done
fi
