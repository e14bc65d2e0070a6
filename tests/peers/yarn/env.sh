# shared settings (source it)
export YARNPEER_VERSION=3.5.0
export YARNPEER=${YARNPEER:-$HOME/.cache/opsconsole-peers/yarn/$YARNPEER_VERSION}
export YARNPEER_LIB=$YARNPEER/lib YARNPEER_CONF=$YARNPEER/conf YARNPEER_RUN=$YARNPEER/run
export HADOOP_CONF_DIR=$YARNPEER_CONF
export JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
# Java 17 module opens Hadoop needs (cf. HADOOP-19310); JDK_JAVA_OPTIONS is read by the java launcher,
# and is whitelisted into container environments (the DistributedShell AM is a JVM too)
export JDK_JAVA_OPTIONS="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.zip=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.security.util=ALL-UNNAMED --add-opens=java.base/sun.security.x509=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.math=ALL-UNNAMED"
# ports of the hand-started peer (start.sh); the test fixtures pick free ports of their own
export RM_RPC=18032 RM_SCHED=18030 RM_TRACKER=18031 RM_ADMIN=18033 RM_WEB=18088
export NM_RPC=18040 NM_LOCALIZER=18044 NM_WEB=18042
export RM_URL=http://127.0.0.1:$RM_WEB NM_URL=http://127.0.0.1:$NM_WEB
