# Sourced by run_tests.sh and run_all.sh: create or reuse the project's virtual
# environment and install requirements.txt plus the package itself. The
# install is skipped when requirements.txt and pyproject.toml are unchanged
# since the last successful install (a stamp file holds their hash).
# Set AMTFL_TF_VENV to use another location, AMTFL_TF_PYTHON for another
# interpreter.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_venv="${AMTFL_TF_VENV:-$_root/.venv}"
_python="${AMTFL_TF_PYTHON:-python3}"
if [[ ! -x "$_venv/bin/python" ]]; then
  echo "[setup] creating virtual environment in $_venv" >&2
  "$_python" -m venv "$_venv"
fi
_stamp="$_venv/.amtfl_tf_installed"
_want="$(cat "$_root/requirements.txt" "$_root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$_stamp" || "$(cat "$_stamp")" != "$_want" ]]; then
  echo "[setup] installing requirements.txt into $_venv (first run takes about a minute)" >&2
  # (grep drops pip's notes about this machine's unused local indexes)
  "$_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$_root/requirements.txt" 2> >(grep -v "is ignored: it is neither" >&2)
  # --no-deps: requirements.txt already pins everything, tensorflow-cpu
  # included (the package's [cpu] extra).
  "$_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps -e "$_root"
  echo "$_want" > "$_stamp"
fi
export PATH="$_venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
unset _root _venv _python _stamp _want
