#!/usr/bin/env python3
"""Read an agency's LGSP delivery topic with Confluent's Python client.

Logs in to Kafka with SASL/SCRAM-SHA-512 (kafka.auth on), reads the topic in
the agency's consumer group, turns each value back into the change event
with Confluent's JSON Schema deserializer and the schema from the bus's
registry, prints one JSON line per event and commits after it.

Configuration (environment):
  LGSP_BOOTSTRAP       Kafka bootstrap address, e.g. 127.0.0.1:9092
  LGSP_AGENCY          the agency id: Kafka user and registry user, e.g. vss
  LGSP_KAFKA_PASSWORD  the agency's Kafka password (from the operator)
  LGSP_API_TOKEN       the agency's API token (the registry's password)
  LGSP_REGISTRY_URL    e.g. http://127.0.0.1:8081
  LGSP_TOPIC           e.g. deliver.vss.civil_status.birth_registration
  LGSP_GROUP           consumer group; must start with "<agency>."
  LGSP_COUNT           stop after this many events (0 or unset: run on)

Runs with Debian's python3-confluent-kafka (1.7, plus python3-requests and
python3-jsonschema) and with confluent-kafka 2.x from PyPI.
"""
import json
import os

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

env = os.environ
agency, topic = env["LGSP_AGENCY"], env["LGSP_TOPIC"]

consumer = Consumer({
    "bootstrap.servers": env["LGSP_BOOTSTRAP"],
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "SCRAM-SHA-512",
    "sasl.username": agency,
    "sasl.password": env["LGSP_KAFKA_PASSWORD"],
    "group.id": env["LGSP_GROUP"],
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
registry = SchemaRegistryClient({
    "url": env["LGSP_REGISTRY_URL"],
    "basic.auth.user.info": agency + ":" + env["LGSP_API_TOKEN"],
})
# A delivery topic's values are registered under "<topic>-value": the fields
# of the agency's agreement only.
schema = registry.get_latest_version(topic + "-value").schema
deserialize = JSONDeserializer(schema.schema_str)

want, seen = int(env.get("LGSP_COUNT") or 0), 0
consumer.subscribe([topic])
try:
    while want == 0 or seen < want:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            raise SystemExit("kafka: %s" % msg.error())
        event = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        print(json.dumps({"key": msg.key().decode(), "ce_id": headers.get("ce_id"), "event": event},
                         ensure_ascii=False), flush=True)
        consumer.commit(message=msg, asynchronous=False)
        seen += 1
finally:
    consumer.close()
