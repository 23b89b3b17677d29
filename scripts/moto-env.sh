#!/usr/bin/env bash
# Installs moto (the AWS wire-protocol stand-in used by __tests__/e2e/moto.test.ts)
# into a private venv at .cache/venv. Idempotent: quiet and quick when the pinned
# version is already there, so tests can call it every run.
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${root}/.cache/venv"
python="${PYTHON:-python3}"

installed_version() {
  "${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

if [[ -x "${venv}/bin/moto_server" && "$(installed_version)" == "${MOTO_VERSION}" ]]; then
  exit 0
fi

echo "moto-env: installing moto[server]==${MOTO_VERSION} into ${venv}" >&2
mkdir -p "${root}/.cache"
if [[ ! -x "${venv}/bin/python" ]]; then
  "${python}" -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==${MOTO_VERSION}"

if [[ ! -x "${venv}/bin/moto_server" ]]; then
  echo "moto-env: pip finished but ${venv}/bin/moto_server is missing" >&2
  exit 1
fi
