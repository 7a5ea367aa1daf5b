#!/bin/sh
# Creates a placeholder source for every target the given Cargo manifests declare (plus the
# default src/main.rs and src/lib.rs), so the Docker dependency layer can build from manifests
# alone: Cargo refuses to load a workspace whose declared targets are missing.
# Usage: stub-targets.sh Cargo.toml testbed/Cargo.toml
set -eu
for manifest in "$@"; do
  dir=$(dirname "$manifest")
  printf '%s\n' "$dir/src/main.rs" "$dir/src/lib.rs"
  awk -v dir="$dir" '
    function flush() {
      if (kind != "") {
        p = path
        if (p == "" && kind == "bench") p = "benches/" name ".rs"
        if (p == "" && kind == "test") p = "tests/" name ".rs"
        if (p == "" && kind == "example") p = "examples/" name ".rs"
        if (p == "" && kind == "bin") p = "src/bin/" name ".rs"
        if (p != "") print dir "/" p
      }
      kind = ""; name = ""; path = ""
    }
    /^[[:space:]]*\[/ {
      flush()
      if ($0 ~ /^[[:space:]]*\[\[(bench|test|example|bin)\]\]/) { kind = $0; gsub(/[][[:space:]]/, "", kind) }
      next
    }
    kind != "" && /^[[:space:]]*name[[:space:]]*=/ { v = $0; sub(/^[^"]*"/, "", v); sub(/".*/, "", v); name = v }
    kind != "" && /^[[:space:]]*path[[:space:]]*=/ { v = $0; sub(/^[^"]*"/, "", v); sub(/".*/, "", v); path = v }
    END { flush() }
  ' "$manifest"
done | while read -r file; do
  mkdir -p "$(dirname "$file")"
  [ -e "$file" ] || echo 'fn main() {}' > "$file"
done
