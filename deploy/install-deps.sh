#!/usr/bin/env bash
# Install the Debian packages that the tests and benchmarks run for real, if they are missing:
# Dovecot (IMAP + LMTP), Chromium (browser tests), age (interop check), imapfilter and wrk
# (benchmark baselines), openssl (bundle signatures). Needs root (or passwordless sudo).
set -euo pipefail
need=()
command -v dovecot >/dev/null || need+=(dovecot-imapd dovecot-lmtpd)
test -x /usr/lib/dovecot/lmtp || need+=(dovecot-lmtpd)
command -v chromium >/dev/null || need+=(chromium)
command -v age >/dev/null || need+=(age)
command -v imapfilter >/dev/null || need+=(imapfilter)
command -v wrk >/dev/null || need+=(wrk)
command -v openssl >/dev/null || need+=(openssl)
command -v pg_isready >/dev/null || need+=(postgresql-client)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The PostgreSQL tests need the loopback server; start it if this machine has one stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
exit 0
