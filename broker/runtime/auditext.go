package runtime

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/metrics"
)

// openAudit opens the access log after checking the store against the
// checkpoints held outside it (the checkpoints topic, the configured
// witnesses): a store that was cut or forked behind them stops the start.
// Every checkpoint signed from then on is published to the topic.
func (b *Bus) openAudit(ctx context.Context, c config.Config, key []byte, signer ed25519.PrivateKey) error {
	pub := signer.Public().(ed25519.PublicKey)
	topic := c.Audit.CheckpointsTopic
	if err := kafkaio.EnsureTopics(ctx, b.cluster, []kafkaio.Topic{witness.Topic(topic)}, c.Kafka.Replication); err != nil {
		return err
	}
	known, err := b.externalCheckpoints(ctx, pub)
	if err != nil {
		return err
	}
	b.auditPub = witness.NewPublisher(b.cluster, topic, pub)
	publish := func(ctx context.Context, cp audit.Checkpoint) {
		if err := b.auditPub.Publish(ctx, cp); err != nil && ctx.Err() == nil {
			b.log.Error("audit checkpoint not published to Kafka: auditors and witnesses miss it until the next one is", "size", cp.Size, "error", err)
		}
	}
	b.Audit, err = audit.Open(ctx, b.Store, key, audit.WithSigner(signer), audit.WithKnownCheckpoints(known...), audit.OnCheckpoint(publish))
	if errors.Is(err, audit.ErrCut) || errors.Is(err, audit.ErrForked) {
		return fmt.Errorf("refusing to start on this audit log: %w", err)
	}
	return err
}

// externalCheckpoints are the newest checkpoint on the checkpoints topic
// and each configured witness's newest, all signed with pub. An
// unreachable witness is logged and skipped, so that one witness's outage
// does not stop the bus; Kafka, which the bus needs anyway, must answer.
func (b *Bus) externalCheckpoints(ctx context.Context, pub ed25519.PublicKey) ([]audit.Known, error) {
	c := b.opts.Config
	var known []audit.Known
	topic := c.Audit.CheckpointsTopic
	cp, ok, err := witness.LatestOnTopic(ctx, b.cluster, topic, pub)
	if err != nil {
		return nil, fmt.Errorf("audit: read the checkpoints published on %s: %w", topic, err)
	}
	if ok {
		known = append(known, audit.Known{Checkpoint: cp, From: "kafka topic " + topic})
	}
	for _, u := range c.Audit.Witnesses {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cp, err := witness.Fetch(wctx, nil, u, pub, nil)
		cancel()
		switch {
		case errors.Is(err, witness.ErrNoCheckpoint):
		case err != nil:
			b.log.Warn("audit witness unreachable or unusable; the log is checked against the others", "witness", u, "error", err)
		default:
			known = append(known, audit.Known{Checkpoint: cp, From: "witness " + u})
		}
	}
	return known, nil
}

// verifyLoop re-verifies the whole log every Audit.VerifyEvery against the
// checkpoints held outside the store; the outcome is a metric and, on
// failure, an ERROR line to alert on.
func (b *Bus) verifyLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var m *metrics.AuditVerify // registered with the first outcome, so no false 0 before it
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok := b.verifyOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if m == nil {
			m = metrics.NewAuditVerify(b.Metrics.Registry)
		}
		m.Verified(ok, time.Now())
	}
}

// verifyOnce runs one full verification and logs its outcome.
func (b *Bus) verifyOnce(ctx context.Context) bool {
	pub := b.Audit.PublicKey()
	known, err := b.externalCheckpoints(ctx, pub)
	if err != nil {
		b.log.Error("ALERT audit log verification could not run", "error", err)
		return false
	}
	rep, err := audit.VerifyLogWith(ctx, b.Store, pub, known)
	switch {
	case err != nil:
		b.log.Error("ALERT audit log verification could not run", "error", err)
		return false
	case !rep.OK():
		b.log.Error("ALERT audit log verification FAILED: run lgsp audit verify for details", "first_bad", rep.FirstBad, "problem", rep.Problem,
			"witness_problem", rep.WitnessProblem, "search_filter_problem", rep.SearchFilterProblem)
		return false
	}
	b.log.Info("audit log verified", "entries", rep.Entries, "checkpoints", rep.Checkpoints)
	return true
}
