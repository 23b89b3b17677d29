# shellcheck shell=bash
# Sourced by up.sh: etcd, plain http on loopback.

start_etcd() {
  local client="http://127.0.0.1:${PORT[etcd]}" peer="http://127.0.0.1:${PORT[etcd_peer]}"
  start etcd "$BIN/etcd" --name local --data-dir "$LC_RUN/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "local=$peer" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 # throwaway data: speed over durability
}
