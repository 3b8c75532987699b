# Sourced by .ci/run (and usable by a developer): the tool environment of the template repo.
# uv must never download a Python (not possible on every machine); it finds the interpreters
# on PATH. pyenv's shims resolve through `.python-version` files, which generated projects
# contain, so the real interpreter folders go on PATH instead of the shims.
export UV_PYTHON_DOWNLOADS=never
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for _py in "$HOME"/.pyenv/versions/3.1[123]*/bin; do
  [ -d "$_py" ] && PATH="$_py:$PATH"
done
export PATH="$_root/.venv/bin:$PATH"
unset _root _py
