# Shared by scripts/demo and scripts/test: a virtualenv with the pinned packages, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # Install Debian packages that are missing; `apt-get update` only when something is.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

python_env() {
  local requirements=$1
  command -v python3 >/dev/null || apt_install python3 python3-venv
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    python3 -m venv .venv
  fi
  local stamp=.venv/.installed-$(cat "$requirements" requirements.txt | sha1sum | cut -c1-12)
  if [ ! -f "$stamp" ]; then
    echo "==> pip install -r $requirements"
    .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

node_env() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp=node_modules/.installed-$(sha1sum package-lock.json | cut -c1-12)
  if [ ! -f "$stamp" ]; then
    echo "==> npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
}
