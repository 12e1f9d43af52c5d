#!/usr/bin/env bash
# Upgrade in place: back up, migrate, re-register the webhook, then restart the replicas
# one at a time, each only after the previous one is ready again (no update is lost: a
# stopping replica answers 503 and nginx hands the update to the other one).
# As root (it restarts services; the bot's commands run as the service user):
#   docs/deploy/upgrade.sh
set -euo pipefail

APP_DIR=${APP_DIR:-/opt/shangbao}
ENV_FILE=${ENV_FILE:-/etc/shangbao/shangbao.env}
PYTHON=${PYTHON:-$APP_DIR/.venv/bin/python}
SERVICE_USER=${SERVICE_USER:-shangbao}
REPLICAS=${REPLICAS:-"1 2"}
READY_TIMEOUT=${READY_TIMEOUT:-60}
# Where replica N answers /readyz (shangbao@N listens on 808N).
READY_URL=${READY_URL:-http://127.0.0.1:808%s/readyz}

cd "$APP_DIR"
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

bot() {
    if [ "$(id -un)" = "$SERVICE_USER" ]; then
        "$PYTHON" -m bot "$@"
    else
        runuser -u "$SERVICE_USER" -- "$PYTHON" -m bot "$@"
    fi
}

bot db backup
bot db upgrade
bot webhook set

for replica in $REPLICAS; do
    systemctl restart "shangbao@$replica"
    ready=""
    # shellcheck disable=SC2059
    url=$(printf "$READY_URL" "$replica")
    for _ in $(seq "$READY_TIMEOUT"); do
        if curl -fsS "$url" >/dev/null; then
            ready=yes
            break
        fi
        sleep 1
    done
    if [ -z "$ready" ]; then
        echo "replica $replica is not ready after ${READY_TIMEOUT}s; stopping the upgrade" >&2
        exit 1
    fi
    echo "replica $replica is ready"
done
