// Read an agency's LGSP delivery topic with KafkaJS and decode each value
// with @kafkajs/confluent-schema-registry. Same environment as
// ../python/consume.py (LGSP_BOOTSTRAP, LGSP_AGENCY, LGSP_KAFKA_PASSWORD,
// LGSP_API_TOKEN, LGSP_REGISTRY_URL, LGSP_TOPIC, LGSP_GROUP, LGSP_COUNT);
// prints one JSON line per event. Install with `npm ci` in this folder.
'use strict'
const { Kafka, logLevel } = require('kafkajs')
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const env = process.env
const kafka = new Kafka({
  clientId: env.LGSP_AGENCY,
  brokers: env.LGSP_BOOTSTRAP.split(','),
  sasl: { mechanism: 'scram-sha-512', username: env.LGSP_AGENCY, password: env.LGSP_KAFKA_PASSWORD },
  logLevel: logLevel.ERROR,
})
// The shared JSON schemas use "format": "date", which Ajv's strict mode (the
// registry client's default) refuses as an unknown format: strict: false.
// (LGSP_AJV_STRICT=true only exists to show that failure in the tests.)
const registry = new SchemaRegistry(
  { host: env.LGSP_REGISTRY_URL, auth: { username: env.LGSP_AGENCY, password: env.LGSP_API_TOKEN } },
  { [SchemaType.JSON]: env.LGSP_AJV_STRICT === 'true' ? {} : { strict: false } },
)

const consumer = kafka.consumer({ groupId: env.LGSP_GROUP }) // "<agency>.…"
const want = Number(env.LGSP_COUNT || 0)
let seen = 0

async function main () {
  await consumer.connect()
  await consumer.subscribe({ topics: [env.LGSP_TOPIC], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      let event
      try {
        event = await registry.decode(message.value)
      } catch (err) { // a value this client cannot read: stop, do not skip it
        console.error('cannot decode offset ' + message.offset + ': ' + err.message)
        process.exit(1)
      }
      const ceId = message.headers.ce_id && message.headers.ce_id.toString()
      console.log(JSON.stringify({ key: message.key.toString(), ce_id: ceId, event }))
      if (want && ++seen >= want) setImmediate(() => consumer.disconnect().then(() => process.exit(0)))
    }
  })
}

main().catch(async (err) => {
  console.error(err.message || err)
  await consumer.disconnect().catch(() => {})
  process.exit(1)
})
