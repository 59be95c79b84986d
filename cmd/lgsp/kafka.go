package main

import "github.com/lgsp-bus/lgsp/broker/devkafka"

func init() {
	register(command{Name: "kafka", Summary: "run the embedded Kafka broker alone (several `lgsp serve` on one machine)", Run: devkafka.Main})
}
