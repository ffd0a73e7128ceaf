#!/usr/bin/env bash
# A one-node Ceph cluster for the tests: one mon, one mgr and one OSD
# (bluestore on a sparse file), plain processes listening on 127.0.0.1 only,
# everything under one directory DIR.
#
#   tests/ceph-cluster.sh start DIR   # prints DIR/ceph.conf when the pool
#                                     # "rbd" is ready and every PG is
#                                     # active+clean; non-zero + log tails
#                                     # on failure (daemons already stopped)
#   tests/ceph-cluster.sh stop DIR    # stops the daemons from their pid
#                                     # files: osd, mgr, then mon
#   tests/ceph-cluster.sh osd-stop DIR   # stop only the OSD (fault tests)
#   tests/ceph-cluster.sh osd-start DIR  # start it again, wait until it is
#                                        # up and every PG active+clean
#
# CEPH_AUTH=cephx starts it with cephx required everywhere: every daemon
# has its own key, client.admin's is in DIR/client.admin.keyring (named in
# the conf's [client] section, so the ceph and rbd tools just work).
#
# Callers stop it from an EXIT trap (or a test fixture's cleanup) so that a
# failed test leaves no daemon running.  CEPH_START_TIMEOUT (seconds,
# default 120) bounds the whole start.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
conf=$dir/ceph.conf
limit=${CEPH_START_TIMEOUT:-120}
auth=${CEPH_AUTH:-none}
case $auth in
none | cephx) ;;
*) echo "$0: CEPH_AUTH must be none or cephx" >&2; exit 2 ;;
esac

# A free TCP port on 127.0.0.1: the mon retries a busy port for 15 s and
# then exits, so ask the kernel for one that is free now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ceph_cli() {
    timeout 20 ceph --conf "$conf" --connect-timeout 15 "$@"
}

log_tails() {
    for f in "$dir"/log/*.log; do
        [ -f "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 25 "$f" >&2
    done
}

stop_one() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    rm -f "$pidfile"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    # A stopping OSD's main thread is a zombie while its other threads
    # still run: wait until the whole process is gone, not only its
    # cmdline.  Bounded; then SIGKILL.
    for _ in $(seq 1 100); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
}

stop_cluster() {
    stop_one "$dir/run/osd.0.pid"
    stop_one "$dir/run/mgr.x.pid"
    stop_one "$dir/run/mon.a.pid"
}

fail() {
    echo "ceph-cluster: $*" >&2
    log_tails
    stop_cluster
    exit 1
}

# Wait (bounded by the overall deadline) until "$@" succeeds.
deadline=0
wait_for() {
    local what=$1
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
        sleep 0.3
    done
}

osd_up_in() {
    ceph_cli osd stat -f json | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d.get("num_up_osds") == 1 and d.get("num_in_osds") == 1 else 1)'
}

mgr_available() {
    ceph_cli mgr stat -f json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin).get("available") else 1)'
}

# Every PG of every pool active+clean: the pg_num sum of the OSD map against
# the pgmap (a bare "all clean" passes while only the mgr pool is known).
pgs_clean() {
    local want
    want=$(ceph_cli osd dump -f json | python3 -c '
import json, sys
print(sum(p["pg_num"] for p in json.load(sys.stdin)["pools"]))')
    ceph_cli status -f json | python3 -c '
import json, sys
want = int(sys.argv[1])
pm = json.load(sys.stdin)["pgmap"]
clean = sum(s["count"] for s in pm.get("pgs_by_state", [])
            if s["state_name"] == "active+clean")
sys.exit(0 if want > 0 and pm.get("num_pgs") == want and clean == want else 1)' "$want"
}

write_conf() {
    local port=$1 fsid=$2
    cat > "$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = $auth
auth service required = $auth
auth client required = $auth
run dir = $dir/run
crash dir = $dir/crash
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mgr initial modules = iostat
paxos propose interval = 0.1
mgr stats period = 1
mgr tick period = 1
mon mgr digest period = 1
osd mon report interval = 1

[mon]
mon data = $dir/mon/\$name
keyring = $dir/mon/\$name/keyring

[mgr]
mgr data = $dir/mgr/\$name
keyring = $dir/mgr/\$name/keyring

[osd]
osd data = $dir/osd/\$name
keyring = $dir/osd/\$name/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 4G
bluestore fsck on mkfs = false
osd memory target = 1073741824

[client]
log file = $dir/log/client.log
keyring = $dir/client.admin.keyring
admin socket =
EOF
}

# The monitors' and client.admin's keys (mon --mkfs takes both).
make_keyrings() {
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. \
        --cap mon 'allow *' >/dev/null || fail "ceph-authtool failed"
    ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key \
        -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
        --cap mgr 'allow *' --cap mds 'allow *' >/dev/null ||
        fail "ceph-authtool failed"
    ceph-authtool "$dir/mon.keyring" --import-keyring \
        "$dir/client.admin.keyring" >/dev/null || fail "ceph-authtool failed"
}

# osd.0 in the OSD map; with cephx it gets its key in its data dir.
new_osd() {
    local uuid=$1 key
    if [ "$auth" != cephx ]; then
        [ "$(ceph_cli osd new "$uuid")" = 0 ]
        return
    fi
    key=$(ceph-authtool --gen-print-key)
    printf '{"cephx_secret": "%s"}' "$key" >"$dir/osd-secret.json"
    [ "$(ceph_cli osd new "$uuid" -i "$dir/osd-secret.json")" = 0 ] ||
        return 1
    rm -f "$dir/osd-secret.json"
    ceph-authtool --create-keyring "$dir/osd/osd.0/keyring" --name osd.0 \
        --add-key "$key" >/dev/null
}

start_cluster() {
    local port fsid uuid
    deadline=$(( $(date +%s) + limit ))
    mkdir -p "$dir"/{run,crash,log,mon/mon.a,mgr/mgr.x,osd/osd.0}
    port=$(free_port)
    fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    write_conf "$port" "$fsid"

    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" \
        "$dir/monmap" >/dev/null || fail "monmaptool failed"
    mon_keys=()
    if [ "$auth" = cephx ]; then
        make_keyrings
        mon_keys=(--keyring "$dir/mon.keyring")
    fi
    ceph-mon --conf "$conf" --mkfs -i a --monmap "$dir/monmap" \
        "${mon_keys[@]}" >"$dir/log/mkfs-mon.out" 2>&1 ||
        fail "ceph-mon --mkfs failed"
    ceph-mon --conf "$conf" -i a || fail "ceph-mon did not start"
    wait_for "the monitor" ceph_cli mon stat

    if [ "$auth" = cephx ]; then
        ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' \
            osd 'allow *' mds 'allow *' -o "$dir/mgr/mgr.x/keyring" \
            >/dev/null 2>&1 || fail "no key for mgr.x"
    fi
    ceph-mgr --conf "$conf" -i x || fail "ceph-mgr did not start"

    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    new_osd "$uuid" || fail "ceph osd new failed"
    ceph-osd --conf "$conf" -i 0 --mkfs --osd-uuid "$uuid" \
        >"$dir/log/mkfs-osd.out" 2>&1 || fail "ceph-osd --mkfs failed"
    ceph-osd --conf "$conf" -i 0 >"$dir/log/osd-start.out" 2>&1 ||
        fail "ceph-osd did not start"
    wait_for "the OSD to be up and in" osd_up_in
    wait_for "the mgr to be available" mgr_available

    ceph_cli osd pool create rbd 8 8 >/dev/null 2>&1 ||
        fail "pool create failed"
    ceph_cli osd pool application enable rbd rbd >/dev/null 2>&1 ||
        fail "pool application enable failed"
    timeout 30 rbd --conf "$conf" pool init rbd || fail "rbd pool init failed"
    wait_for "every PG to be active+clean" pgs_clean
    echo "$conf"
}

restart_osd() {
    deadline=$(( $(date +%s) + limit ))
    ceph-osd --conf "$conf" -i 0 >>"$dir/log/osd-start.out" 2>&1 ||
        fail "ceph-osd did not start"
    wait_for "the OSD to be up and in" osd_up_in
    wait_for "every PG to be active+clean" pgs_clean
}

case $cmd in
start) start_cluster ;;
stop) stop_cluster ;;
osd-stop) stop_one "$dir/run/osd.0.pid" ;;
osd-start) restart_osd ;;
*) echo "usage: $0 start|stop|osd-stop|osd-start DIR" >&2; exit 2 ;;
esac
