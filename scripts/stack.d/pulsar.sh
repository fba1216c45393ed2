# shellcheck shell=bash disable=SC2034,SC2154  # launched, want, state, detail: scripts/stack's, by dynamic scope
# scripts/stack.d/pulsar.sh — the "pulsar" profile of scripts/stack, sourced by it: Apache Pulsar 3.0.7
# standalone (jars from Maven Central, RocksDB metadata, one in-process bookie, loopback only) and a
# second source Milvus 2.3.5 ("psource-milvus") whose WAL is that Pulsar, with its own etcd rootPath,
# ports and alias. Recipe, timings and pitfalls: shared/stack-notes/pulsar-milvus.md.
#
# The profile is on when `--pulsar` is given, when MCDC_STACK_PULSAR=1, or when one of its pieces is
# recorded as running (so a plain `scripts/stack stop` or `status` still sees them).
# Uses helpers of scripts/stack (launch, pidfile, render, say, die, sha, now_us, since, pid_alive).

PULSAR_PIECES=(pulsar psource-milvus)

pulsar_profile_on() {
    [[ ${MCDC_STACK_PULSAR:-0} == 1 || -f $(pidfile pulsar) || -f $(pidfile psource-milvus) ]]
}

pulsar_init_profile() {
    if pulsar_profile_on; then
        MCDC_STACK_PULSAR=1
        PIECES+=("${PULSAR_PIECES[@]}")
    fi
}

pulsar_piece_port() {
    case $1 in
        pulsar) echo "$MCDC_PULSAR_PORT" ;;
        psource-milvus) echo "$MCDC_PSOURCE_PROXY_PORT" ;;
    esac
}

pulsar_piece_ports() {
    echo "$MCDC_PULSAR_PORT Pulsar broker"
    echo "$MCDC_PULSAR_HTTP_PORT Pulsar web/admin"
    echo "$MCDC_PULSAR_BOOKIE_PORT Pulsar bookie"
}

pulsar_piece_signature() {
    case $1 in
        pulsar) echo "org.apache.pulsar.PulsarStandaloneStarter --config $MCDC_STACK_DIR/pulsar/conf/standalone.conf" ;;
        psource-milvus) echo "milvus run standalone -alias $MCDC_PSOURCE_ALIAS" ;;
    esac
}

# --- install -------------------------------------------------------------------------------------

# Debian's Maven 3.8.7 never finishes resolving pulsar-broker (pitfall 1): it only fetches Maven 3.9.9,
# which then resolves the jars with the breadth-first collector.
pulsar_install() {
    local home=$MCDC_PULSAR_HOME stamp want mvn39
    stamp=$home/.mcdc-pom
    want=$(sha "$HELPERS/pulsar-pom.xml")
    [[ -f $stamp && $(<"$stamp") == "$want" && -d $home/lib ]] && return 0
    mkdir -p "$home/tools" "$home/pom"
    mvn39=$home/tools/apache-maven-3.9.9/bin/mvn
    if [[ ! -x $mvn39 ]]; then
        say "fetching Maven 3.9.9 into $home/tools (needed to resolve the Pulsar jars)"
        mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
            -Dartifact=org.apache.maven:apache-maven:3.9.9:tar.gz:bin -DoutputDirectory="$home/tools" \
            >"$home/mvn.log" 2>&1 || { tail -n 30 "$home/mvn.log" >&2; die "fetching Maven 3.9.9 failed; see $home/mvn.log"; }
        tar -xzf "$home/tools/apache-maven-3.9.9-bin.tar.gz" -C "$home/tools"
    fi
    say "fetching the Pulsar 3.0.7 jars with Maven into $home/lib"
    cp "$HELPERS/pulsar-pom.xml" "$home/pom/pom.xml"
    rm -rf "${home:?}/lib.tmp"
    (cd "$home/pom" && "$mvn39" -q -B -Daether.dependencyCollector.impl=bf \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DoutputDirectory="$home/lib.tmp" -DincludeScope=runtime) >"$home/mvn.log" 2>&1 ||
        { tail -n 30 "$home/mvn.log" >&2; die "fetching the Pulsar jars failed; see $home/mvn.log"; }
    rm -rf "${home:?}/lib"
    mv "$home/lib.tmp" "$home/lib"
    echo "$want" >"$stamp"
}

# --- start / readiness ---------------------------------------------------------------------------

pulsar_start_broker() {
    local d=$MCDC_STACK_DIR/pulsar heap=$MCDC_PULSAR_HEAP_MB
    mkdir -p "$d/conf" "$d/data" "$d/logs"
    render "$HELPERS/pulsar-standalone.conf.in" "$d/conf/standalone.conf"
    render "$HELPERS/pulsar-log4j2.xml.in" "$d/conf/log4j2.xml"
    # --no-functions-worker --no-stream-storage: no functions worker, no port 4181 (pitfall 5).
    # Never create data/standalone/zookeeper: it switches the starter to ZooKeeper mode (pitfall 3).
    launch pulsar "$d" "$d/logs/pulsar.out" java -Xms128m -Xmx"${heap}"m -XX:MaxDirectMemorySize=512m -XX:+UseG1GC \
        -Dlog4j.configurationFile="$d/conf/log4j2.xml" -Dpulsar.log.file="$d/logs/pulsar.log" \
        -Djute.maxbuffer=10485760 -Dio.netty.leakDetectionLevel=disabled -Djava.awt.headless=true \
        --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED \
        --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
        --add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED \
        --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
        -cp "$MCDC_PULSAR_HOME/lib/*" org.apache.pulsar.PulsarStandaloneStarter \
        --config "$d/conf/standalone.conf" --no-functions-worker --no-stream-storage \
        --metadata-dir "$d/data/metadata" --bookkeeper-dir "$d/data/bookkeeper" \
        --bookkeeper-port "$MCDC_PULSAR_BOOKIE_PORT"
}

# Ready = the admin API lists the namespace Milvus writes to (the standalone creates it last) and the
# binary port accepts connections.
pulsar_healthy() {
    local t=${1:-2} out
    out=$(curl -s -m "$t" "$MCDC_PULSAR_ADMIN_URL/admin/v2/namespaces/public" 2>/dev/null) || return 1
    [[ $out == *'"public/default"'* ]] || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$MCDC_PULSAR_PORT") 2>/dev/null
}

pulsar_wait_ready() {
    local pid=$1 deadline=$(($(now_us) + MCDC_PULSAR_TIMEOUT * 1000000))
    until pulsar_healthy; do
        pid_alive "$pid" || { warn "pulsar: process $pid exited"; return 1; }
        (($(now_us) < deadline)) || return 1
        sleep 0.25
    done
}

# The JVM is the slowest piece: launched right after etcd, waited for only when its Milvus needs it.
pulsar_start_early() {
    pulsar_profile_on || return 0
    if want pulsar; then launched[pulsar]=$(now_us); pulsar_start_broker; fi
}

pulsar_start_late() {
    pulsar_profile_on || return 0
    wait_piece pulsar "${launched[pulsar]:-}"
    if want psource-milvus; then
        launched[psource-milvus]=$(now_us)
        start_milvus psource-milvus "$HELPERS/pulsar-milvus.yaml.in"
    fi
    wait_piece psource-milvus "${launched[psource-milvus]:-}"
}

# --- status --------------------------------------------------------------------------------------

# Sets state and detail for one piece of the profile (pid = its running pid).
pulsar_status() {
    local piece=$1 topics n
    case $piece in
        pulsar)
            if pulsar_healthy 3; then
                state=healthy
                # The Pulsar source's channels exist as topics once it wrote to them.
                topics=$(curl -s -m 3 "$MCDC_PULSAR_ADMIN_URL/admin/v2/persistent/public/default" 2>/dev/null) || topics=
                n=$(grep -o "/$MCDC_PSOURCE_ROOT_PATH-" <<<"$topics" | wc -l)
                detail="$n $MCDC_PSOURCE_ROOT_PATH-* topics"
            else
                state=unhealthy detail="admin API $MCDC_PULSAR_ADMIN_URL or broker port does not answer"
            fi ;;
        psource-milvus)
            if "$MCDC_VENV_PYTHON" -B "$HELPERS/wait_ready.py" milvus "http://127.0.0.1:$MCDC_PSOURCE_METRICS_PORT/healthz" \
                "$MCDC_PSOURCE_URI" 5 0 >/dev/null 2>&1; then
                state=healthy detail="WAL on $MCDC_PULSAR_URL"
            else
                state=unhealthy detail="/healthz or list_collections fails"
            fi ;;
    esac
}
