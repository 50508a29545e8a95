#!/bin/sh
# The image's entry point: the first argument names what this container runs.
#   ingest | scoring | reporting   one service under uvicorn (PORT overrides 8001/8002/8003)
#   migrate                        alembic upgrade head on DATABASE_URL, then exit
#   kaohe ARGS…                    the admin CLI (kaohe keys create --role office, …)
# KAOHE_WORKERS uvicorn worker processes per container (default: the CPUs it may use). Workers share
# the log safely (the order lock is in the database; the scoring projector is one leader per
# database behind an advisory lock, the other workers stand by). These are the settings bench/ measures.
set -eu

serve() {
    exec uvicorn "$1" --host 0.0.0.0 --port "${PORT:-$2}" --workers "${KAOHE_WORKERS:-$(nproc)}" --no-access-log \
        --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" --timeout-graceful-shutdown 20
}

command="${1:-ingest}"
[ "$#" -gt 0 ] && shift
case "$command" in
    ingest)    serve services.ingest.app:app 8001 ;;
    scoring)   serve services.scoring.app:app 8002 ;;
    reporting) serve services.reporting.app:app 8003 ;;
    migrate)   exec python -m shared.migrate "$@" ;;
    kaohe)     exec kaohe "$@" ;;
    *)         exec "$command" "$@" ;;
esac
