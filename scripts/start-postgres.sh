#!/usr/bin/env bash
# Install (if needed) and start Debian's PostgreSQL, create role and database "nubis" for tests.
# Prints the connection URL on its last line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  # apt-get-wait.sh waits for a held apt/dpkg lock and shows apt's error when it fails
  bash "$(dirname "$0")/apt-get-wait.sh" update -qq
  bash "$(dirname "$0")/apt-get-wait.sh" install -y -qq --no-install-recommends postgresql
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
pg_ctlcluster "$ver" main start 2>/dev/null || true
for i in $(seq 1 30); do su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break; sleep 0.5; done
su postgres -c "psql -qAtc \"do \\\$\\\$ begin if not exists (select from pg_roles where rolname='nubis') then create role nubis login password 'nubis' createdb; end if; end \\\$\\\$;\"" >/dev/null
su postgres -c "psql -qAtc \"select 1 from pg_database where datname='nubis'\"" | grep -q 1 || su postgres -c "createdb -O nubis nubis"
echo "postgres://nubis:nubis@127.0.0.1:5432/nubis"
