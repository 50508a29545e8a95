#!/bin/sh
# The image's entry point: the first argument names what this container runs.
#   ingest | scoring | reporting   one service under uvicorn (PORT overrides 8001/8002/8003)
#   migrate                        alembic upgrade head on DATABASE_URL, then exit
#   kaohe ARGS…                    the admin CLI (kaohe keys create --role office, …)
# KAOHE_WORKERS uvicorn worker processes per container (default: the CPUs it may use). Workers share
# the log safely (the order lock is in the database; the scoring projector is one leader per
# database behind an advisory lock, the other workers stand by). These are the settings bench/ measures.
set -eu

# Connection limits (shared/serving.py, docs/security.md "Slow and keyless clients"): request
# headers within KAOHE_HEADER_TIMEOUT (10 s) and at most 16 KiB by the httptools protocol below, idle
# keep-alive 5 s, at most KAOHE_LIMIT_CONCURRENCY connections (then 503); bodies are guarded by the
# app (the key before the body; KAOHE_BODY_READ_TIMEOUT between reads, KAOHE_BODY_TIMEOUT in all).
serve() {
    exec uvicorn "$1" --host 0.0.0.0 --port "${PORT:-$2}" --workers "${KAOHE_WORKERS:-$(nproc)}" --no-access-log \
        --log-config /app/shared/uvicorn-log.yaml \
        --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" --timeout-graceful-shutdown 20 \
        --http shared.serving:GuardedHttpTools --timeout-keep-alive 5 \
        --limit-concurrency "${KAOHE_LIMIT_CONCURRENCY:-1000}"
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
