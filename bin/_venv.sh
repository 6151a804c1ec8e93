# Sourced by bin/run, bin/test and bin/lock: make .venv from the hashed lock of the given
# requirements file (requirements.txt -> requirements.lock), then activate it. pip checks every
# download against the lock's hashes. The locks' hash is remembered so a re-run installs nothing
# when nothing changed.
requirements="$1"
lock="${requirements%.txt}.lock"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.lock | sha256sum | cut -c1-16)-$(basename "$lock")"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  touch "$stamp"
fi
# shellcheck disable=SC1091
source .venv/bin/activate
