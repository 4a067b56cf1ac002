#!/bin/sh
# Validates an OpenAPI 3.0 document against the official schema with @seriousme/openapi-schema-validator (npm).
# Usage: openapi_validate.sh FILE [TOOLS_DIR]. The validator is installed once into TOOLS_DIR (default
# $VOXA_BUILD/npm-tools, else build/npm-tools) and reused. Exit 0 valid, 1 invalid, 77 when npm/node are missing
# or the package cannot be installed (offline), so meson reports a skip rather than a failure.
set -eu
file=${1:?usage: openapi_validate.sh FILE [TOOLS_DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${2:-${VOXA_BUILD:-$root/build}/npm-tools}
case $file in /*) ;; *) file=$(pwd)/$file ;; esac
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "SKIP: npm and node are needed to validate the OpenAPI document" >&2
    exit 77
fi
pkg=@seriousme/openapi-schema-validator
if [ ! -d "$tools/node_modules/$pkg" ]; then
    mkdir -p "$tools"
    if ! npm install --silent --no-audit --no-fund --prefix "$tools" "$pkg@2" >"$tools/npm-install.log" 2>&1; then
        echo "SKIP: npm install $pkg failed (see $tools/npm-install.log)" >&2
        exit 77
    fi
fi
cd "$tools"
VOXA_OPENAPI_FILE=$file node --input-type=module -e '
import { Validator } from "@seriousme/openapi-schema-validator";
const validator = new Validator();
const res = await validator.validate(process.env.VOXA_OPENAPI_FILE);
if (!res.valid) {
    console.error("invalid OpenAPI document " + process.env.VOXA_OPENAPI_FILE + ":");
    console.error(JSON.stringify(res.errors, null, 2));
    process.exit(1);
}
console.log("valid OpenAPI " + validator.version + ": " + process.env.VOXA_OPENAPI_FILE);
'
