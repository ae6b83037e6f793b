#!/usr/bin/env bash
# Replaces the portal's pinned copy of the ALTCHA widget with version $1 of the npm package `altcha`,
# and writes its README (files, their origin in the package and their sha256). Needs npm.
set -euo pipefail
version="${1:?usage: vendor-altcha.sh VERSION}"
target="$(cd "$(dirname "$0")" && pwd)/src/support_portal/static/altcha"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "altcha@$version" >/dev/null && tar xzf "altcha-$version.tgz")
files=("altcha.min.js:dist/main/altcha.min.js" "fr-fr.js:dist/i18n/fr-fr.js" "LICENSE.txt:LICENSE.txt")
mkdir -p "$target"
{
    echo "# ALTCHA widget, pinned copy"
    echo
    echo "The captcha widget of the signed-out form, served by the portal itself (no third-party service):"
    echo "files of the npm package \`altcha\` at the version below, under its MIT licence (\`LICENSE.txt\`)."
    echo
    echo "| file | from the package | sha256 |"
    echo "|---|---|---|"
    for entry in "${files[@]}"; do
        name="${entry%%:*}"
        cp "$work/package/${entry#*:}" "$target/$name"
        echo "| \`$name\` | \`${entry#*:}\` | \`$(sha256sum "$target/$name" | cut -d' ' -f1)\` |"
    done
    echo
    echo "Version: **$version**. \`make vendor-altcha ALTCHA_VERSION=x.y.z\` replaces the copy with another"
    echo "version (it needs \`npm\`); the server side is the \`altcha\` package on PyPI, which verifies the"
    echo "widget's v2 payloads."
} > "$target/README.md"
echo "ALTCHA $version copied to $target"
