#!/bin/bash
# Run once by the postgres image at initdb: let the optional standby (docker-compose.yml, profile
# "standby") stream from this server with the same password as the services.
set -e
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
