#!/usr/bin/env bash
# npm run lint:sh: shellcheck (Debian package `shellcheck`) on every shell script in the
# repo: the tracked *.sh files and the tracked files whose first line is a sh or bash
# shebang (.ci/run). Sourced parts are checked on their own too. Settings: .shellcheckrc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v shellcheck >/dev/null; then
  echo "lint:sh: shellcheck is not installed (apt-get install shellcheck)" >&2
  exit 1
fi
files=()
while IFS= read -r -d '' f; do
  if [[ $f == *.sh ]] || { [[ -f $f ]] && head -n1 "$f" | grep -Eq '^#!.*[/ ](ba)?sh( |$)'; }; then
    files+=("$f")
  fi
done < <(git ls-files -z)
if ((${#files[@]} == 0)); then
  echo "lint:sh: found no shell scripts (not in a git checkout?)" >&2
  exit 1
fi
echo "lint:sh: shellcheck $(shellcheck --version | sed -n 's/^version: //p') on ${#files[@]} files: ${files[*]}"
shellcheck "${files[@]}"
