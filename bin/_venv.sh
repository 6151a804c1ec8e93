# Sourced by bin/run and bin/test: make .venv with the given requirements file, then activate it.
# The requirements file's hash is remembered so a re-run installs nothing when nothing changed.
requirements="$1"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
# shellcheck disable=SC1091
source .venv/bin/activate
