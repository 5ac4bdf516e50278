# Sourced by scripts/install-dependencies.sh and scripts/api-check.sh: where the API check's Python packages live.
# A virtual environment outside the clone (so nothing of it is committed, and the system's Python is left alone),
# shared by the clones of one user; CLOACINA_PYTHON_ENV overrides it.
api_python_env="${CLOACINA_PYTHON_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cloacina/python-env}"
api_requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements.txt"
