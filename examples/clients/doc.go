// Package clients holds what an integrator runs against the bus with
// third-party Kafka and schema-registry clients: a Python consumer with
// Confluent's client and JSON Schema deserializer (python/) and a KafkaJS
// consumer with @kafkajs/confluent-schema-registry (kafkajs/). Its tests run
// them, and kcat, against a dev bus with kafka.auth on; the README's
// "Integrators' clients" section quotes them.
package clients
