#!/usr/bin/env bash
# Fresh-machine check: clone this repo into a temp dir, make a new virtualenv, run exactly the
# README's install and test commands, start `python app.py`, ask one question over HTTP, and
# print how long each step took.
#   bash scripts/fresh_check.sh [--skip-tests]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/face-fresh-XXXXXX)"
PORT="${PORT:-7911}"
declare -a STEPS
step() {  # step NAME COMMAND...
  local name="$1"; shift
  local t0=$(date +%s)
  echo "== $name: $*" >&2
  "$@"
  STEPS+=("$(printf '%-28s %6ss' "$name" "$(( $(date +%s) - t0 ))")")
}
cleanup() { [[ -n "${APP_PID:-}" ]] && kill "$APP_PID" 2>/dev/null || true; }
trap cleanup EXIT

step "clone" git clone --quiet "$REPO" "$WORK/repo"
cd "$WORK/repo"
step "virtualenv" python3 -m venv "$WORK/venv"
source "$WORK/venv/bin/activate"
step "install (README)" pip install --quiet -r requirements.txt
if [[ "${1:-}" != "--skip-tests" ]]; then
  step "tests (README: pytest)" pytest -q -p no:cacheprovider
fi
ask() {
  python app.py --port "$PORT" > "$WORK/app.log" 2>&1 &
  APP_PID=$!
  python - "$PORT" <<'PY'
import sys, time
from gradio_client import Client
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(600):
    try:
        client = Client(url, verbose=False)
        break
    except Exception:
        time.sleep(0.5)
else:
    sys.exit("the app did not come up; see app.log")
t0 = time.time()
chat, _, error, *_ = client.predict("How did you burn your face?", "hero", "ending", "auto", 5, 0.2, "fresh-check",
                                     api_name="/send")
answer = chat[-1]["content"] if isinstance(chat[-1]["content"], str) else chat[-1]["content"][0]["text"]
print(f"answer ({time.time() - t0:.1f} s, first question loads the store and the model): {answer}")
assert answer and not (error or "").strip(), error
PY
}
step "start app + ask over HTTP" ask
echo
echo "fresh-machine check passed in $WORK"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); AMX flags: $(grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | xargs || true)"
printf '%s\n' "${STEPS[@]}"
