#!/usr/bin/env bash
# Starts the Kafka of docker-compose.yml with SASL/SCRAM and ACLs (see
# server.properties). It adds the logins from the environment to a copy of
# server.properties, formats the storage on first start with the bus's
# SCRAM credential (kafka-storage.sh --add-scram: in KRaft, SCRAM users live
# in the cluster metadata, so the first one must be there before the broker
# serves), writes a client config for the health check and the Kafka CLI
# tools, and starts the broker.
set -euo pipefail
: "${LGSP_KAFKA_USER:?set the bus's Kafka user}"
: "${LGSP_KAFKA_PASSWORD:?set the bus's Kafka password}"
: "${KAFKA_CONTROLLER_PASSWORD:?set the controller password}"
: "${CLUSTER_ID:?set the cluster id (kafka-storage.sh random-uuid)}"
for v in "$LGSP_KAFKA_USER" "$LGSP_KAFKA_PASSWORD" "$KAFKA_CONTROLLER_PASSWORD"; do
  if [[ ! "$v" =~ ^[A-Za-z0-9_.-]+$ ]]; then
    echo "Kafka user and passwords: letters, digits, '.', '_' and '-' only (they go into JAAS and --add-scram)" >&2
    exit 1
  fi
done

work=/tmp/lgsp-kafka
mkdir -p "$work"
umask 077
cfg="$work/server.properties"
cp /etc/lgsp/kafka/server.properties "$cfg"
scram="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$LGSP_KAFKA_USER\" password=\"$LGSP_KAFKA_PASSWORD\";"
cat >>"$cfg" <<PROPS

# Appended by start.sh from the environment.
listener.name.internal.scram-sha-512.sasl.jaas.config=$scram
listener.name.external.scram-sha-512.sasl.jaas.config=$scram
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$KAFKA_CONTROLLER_PASSWORD" user_controller="$KAFKA_CONTROLLER_PASSWORD";
PROPS
cat >"$work/client.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram
PROPS

/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$cfg" \
  --add-scram "SCRAM-SHA-512=[name=$LGSP_KAFKA_USER,password=$LGSP_KAFKA_PASSWORD]"
exec /opt/kafka/bin/kafka-server-start.sh "$cfg"
