#!/bin/bash
# mtconnect-adapter tests (ctest label mtconnect):
#   run.sh adapter   integration tests against a fake region (test_adapter.py)
#   run.sh agent     end to end with a real MTConnect agent (cppagent 1.8, agent.sh);
#                    exit 77 (skipped) when no agent binary is available
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${HMK_BIN:?set HMK_BIN to the build directory}"
case "${1:-}" in
adapter) exec python3 "$here/test_adapter.py" ;;
agent) exec "$here/agent.sh" ;;
*) echo "usage: run.sh adapter|agent" >&2; exit 2 ;;
esac
