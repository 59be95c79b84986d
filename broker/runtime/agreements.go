package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
)

// Agencies is the agency registry in force.
func (b *Bus) Agencies() *policies.Agencies { return b.registry.Load() }

// kafkaAuth is the bus's management of Kafka users and ACLs (kafka.auth).
type kafkaAuth struct {
	store *kafkaauth.Store
	// super is the login that may change users and ACLs: the store's own
	// superuser on the embedded broker, kafka.user on an external cluster.
	super kafkaauth.Credential
}

// openKafkaAuth opens the credentials: the document in the shared store
// when there is one (serve: several instances), else the file in the data
// dir (dev); super is the bus's login (zero: the credentials' own
// superuser, for the embedded broker).
func (b *Bus) openKafkaAuth(c config.Config, super kafkaauth.Credential, shared kafkaauth.SharedDocs) error {
	var st *kafkaauth.Store
	var err error
	if shared != nil {
		st, err = kafkaauth.OpenShared(c.DataDir, shared)
	} else {
		st, err = kafkaauth.OpenStore(c.DataDir)
	}
	if err != nil {
		return err
	}
	if super.User == "" {
		super = st.Bus()
	}
	b.kafkaAuth = &kafkaAuth{store: st, super: super}
	return nil
}

// kafkaConfig derives the Kafka users and ACLs of an agreement set and a
// registry, issuing credentials to principals that never had one.
// Passwords issued now are logged once and returned; later the credentials
// file keeps only their SCRAM hashes.
func (b *Bus) kafkaConfig(set *policies.Set, ags *policies.Agencies) (*kafkaauth.Config, map[string]string, error) {
	cfg, issued, err := b.kafkaAuth.store.Config(kafkaauth.Inputs{Agencies: ags, Agreements: set.Agreements(), Sources: kafkaauth.Sources(b.Catalog.Datasets())})
	if err != nil {
		return nil, nil, err
	}
	cfg.Superuser = b.kafkaAuth.super
	for user, pass := range issued {
		// Shown once, to the operator who hands it to the agency.
		b.log.Warn("kafka credential issued; hand it to its owner now, it is not shown again", "user", user, "password", pass)
	}
	return cfg, issued, nil
}

// applyKafka makes the cluster hold cfg, logged in as the bus superuser
// (the same kafkaauth.Apply on the embedded broker and on Apache Kafka).
func (b *Bus) applyKafka(ctx context.Context, cfg *kafkaauth.Config) error {
	tr, err := kafkaio.Transport(b.kafkaAuth.super.User, b.kafkaAuth.super.Password)
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	c := kafkaio.Cluster{Brokers: b.cluster.Brokers}.Client(15 * time.Second)
	c.Transport = tr
	return kafkaauth.Apply(ctx, c, cfg)
}

// startKafkaAuth puts the agencies' users and ACLs on an external cluster
// at start (serve with kafka.auth), as the bus superuser kafka.user.
func (b *Bus) startKafkaAuth(ctx context.Context, c config.Config, set *policies.Set) error {
	if err := b.openKafkaAuth(c, kafkaauth.Credential{User: c.Kafka.User, Password: c.Kafka.Password}, b.Store); err != nil {
		return err
	}
	cfg, _, err := b.kafkaConfig(set, b.Agencies())
	if err != nil {
		return err
	}
	if err := b.applyKafka(ctx, cfg); err != nil {
		return fmt.Errorf("kafka.auth: set the agencies' users and ACLs on %v as %s (is it a super user of the cluster?): %w", c.Kafka.Brokers, c.Kafka.User, err)
	}
	return nil
}

// putInForce makes set and the registry ags the ones in force. It is the
// one path of a reload and of an agreement changed through the API: the
// delivery topics of stream agreements are created, the Kafka users and
// ACLs follow the new set (with kafka.auth), the change is audited, and
// only then do the engine and the API switch. If any step fails nothing in
// force changes (the Kafka users and ACLs are put back). Callers hold
// policyMu.
func (b *Bus) putInForce(ctx context.Context, set *policies.Set, ags *policies.Agencies, entry store.AuditEntry) (map[string]string, error) {
	c := b.opts.Config
	var topics []kafkaio.Topic
	for _, a := range set.Agreements() {
		if a.Mode == policies.ModeStream {
			topics = append(topics, kafkaio.Topic{Name: contract.DeliveryTopic(a.Consumer, a.Dataset), Partitions: c.Kafka.Partitions})
		}
	}
	if err := kafkaio.EnsureTopics(ctx, b.cluster, topics, c.Kafka.Replication); err != nil {
		return nil, err
	}
	var issued map[string]string
	if b.kafkaAuth != nil {
		cfg, iss, err := b.kafkaConfig(set, ags)
		if err != nil {
			return nil, &api.InvalidError{Err: err}
		}
		issued = iss
		if err := b.applyKafka(ctx, cfg); err != nil {
			b.restoreKafka(ctx, issued)
			return nil, fmt.Errorf("kafka users and ACLs: %w", err)
		}
	}
	if entry.Actor == "" {
		entry.Actor = "operator"
	}
	entry.Time, entry.Decision, entry.RequestID = time.Now(), "allow", set.Digest()
	if err := b.Audit.Append(ctx, []store.AuditEntry{entry}); err != nil {
		b.restoreKafka(ctx, issued)
		return nil, fmt.Errorf("the change could not be audited, so it was not applied: %w", err)
	}
	b.Engine.SetAgencies(ags)
	b.Engine.Reload(set)
	b.registry.Store(ags)
	b.log.Info("agreements in force", "action", entry.Action, "agreements", set.Len(), "digest", set.Digest())
	return issued, nil
}

// restoreKafka puts the users and ACLs of the set in force back after a
// change failed, revoking the credentials the failed change issued.
func (b *Bus) restoreKafka(ctx context.Context, issued map[string]string) {
	if b.kafkaAuth == nil {
		return
	}
	for user := range issued {
		_ = b.kafkaAuth.store.Revoke(user)
	}
	cfg, _, err := b.kafkaConfig(b.Engine.Current(), b.Agencies())
	if err == nil {
		err = b.applyKafka(ctx, cfg)
	}
	if err != nil {
		b.log.Error("kafka users and ACLs could not be put back after a failed agreement change; reload the agreements to retry", "error", err)
	}
}

// reloadAgreements puts the agreement files and the agency registry in
// force again if every file is valid and names a registered agency.
func (b *Bus) reloadAgreements(ctx context.Context) (api.AgreementChange, error) {
	b.policyMu.Lock()
	defer b.policyMu.Unlock()
	_, set, ags, err := loadPolicies(b.opts.Config)
	if err != nil {
		return api.AgreementChange{}, &api.InvalidError{Err: err}
	}
	issued, err := b.putInForce(ctx, set, ags, store.AuditEntry{Action: "agreements.reload"})
	if err != nil {
		return api.AgreementChange{}, err
	}
	return api.AgreementChange{Digest: set.Digest(), Agreements: set.Len(), KafkaCredentialsIssued: issued}, nil
}

// putAgreement writes one agreement file into policies.dir and puts the
// folder in force, or changes nothing.
func (b *Bus) putAgreement(ctx context.Context, id string, raw []byte) (api.AgreementChange, error) {
	return b.changeAgreement(ctx, id, func(f policies.Folder) (*policies.Set, policies.FileChange, error) {
		return f.Put(id, "request body", raw)
	})
}

// deleteAgreement removes one agreement file from policies.dir and puts the
// rest in force, or changes nothing.
func (b *Bus) deleteAgreement(ctx context.Context, id string) (api.AgreementChange, error) {
	return b.changeAgreement(ctx, id, func(f policies.Folder) (*policies.Set, policies.FileChange, error) {
		return f.Delete(id)
	})
}

func (b *Bus) changeAgreement(ctx context.Context, id string, change func(policies.Folder) (*policies.Set, policies.FileChange, error)) (api.AgreementChange, error) {
	dir := b.opts.Config.Policies.Dir
	if dir == "" {
		return api.AgreementChange{}, api.ErrAgreementsBuiltIn
	}
	b.policyMu.Lock()
	defer b.policyMu.Unlock()
	folder := policies.NewFolder(dir)
	set, ch, err := change(folder)
	if err != nil {
		if errors.Is(err, policies.ErrNoSuchAgreement) {
			return api.AgreementChange{}, err
		}
		return api.AgreementChange{}, &api.InvalidError{Err: err}
	}
	ags := b.Agencies()
	if err := ags.CheckConsumers(set); err != nil {
		return api.AgreementChange{}, &api.InvalidError{Err: err}
	}
	undo, err := folder.Write(ch)
	if err != nil {
		return api.AgreementChange{}, err
	}
	entry := store.AuditEntry{Action: "agreement.put", AgreementID: id, Reason: "replaced through the API: " + ch.Name}
	switch {
	case ch.Raw == nil:
		entry.Action, entry.Reason = "agreement.delete", "deleted through the API: "+ch.Name
		if a, ok := b.Engine.Current().Agreement(id); ok {
			entry.Dataset = a.Dataset
		}
	case ch.Created:
		entry.Reason = "created through the API: " + ch.Name
	}
	if a, ok := set.Agreement(id); ok {
		entry.Dataset, entry.LegalBasis = a.Dataset, a.LegalBasis
	}
	issued, err := b.putInForce(ctx, set, ags, entry)
	if err != nil {
		if uerr := undo(); uerr != nil {
			b.log.Error("an agreement change that was not put in force could not be undone on disk; fix the folder before the next reload", "file", ch.Name, "error", uerr)
		}
		return api.AgreementChange{}, err
	}
	return api.AgreementChange{File: ch.Name, Created: ch.Created, Digest: set.Digest(), Agreements: set.Len(), KafkaCredentialsIssued: issued}, nil
}

// rotateKafkaPassword gives a Kafka user a new password, audited, and puts
// it on the cluster at once, so the old one stops working.
func (b *Bus) rotateKafkaPassword(ctx context.Context, user string) (string, error) {
	if b.kafkaAuth == nil {
		return "", api.ErrKafkaAuthOff
	}
	b.policyMu.Lock()
	defer b.policyMu.Unlock()
	cfg, _, err := b.kafkaConfig(b.Engine.Current(), b.Agencies())
	if err != nil {
		return "", err
	}
	known := false
	for _, u := range cfg.Users {
		known = known || u.User == user
	}
	if !known {
		return "", api.ErrNoKafkaUser
	}
	if err := b.Audit.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "operator", Action: "credential.issue", Decision: "allow",
		RequestID: "kafka:" + user, Reason: "Kafka password of " + user + " (SCRAM-SHA-512), the previous one revoked"}}); err != nil {
		return "", fmt.Errorf("the rotation could not be audited, so it was not done; retry: %w", err)
	}
	pass, err := b.kafkaAuth.store.Rotate(user)
	if err != nil {
		return "", err
	}
	if cfg, _, err = b.kafkaConfig(b.Engine.Current(), b.Agencies()); err == nil {
		err = b.applyKafka(ctx, cfg)
	}
	if err != nil {
		return "", fmt.Errorf("the new password is stored but not yet on Kafka (the next reload puts it there, or rotate again): %w", err)
	}
	return pass, nil
}

// operatorTokenHint says where the operator finds the operator token, for
// the banner (never the token itself).
func (b *Bus) operatorTokenHint() string {
	if b.opts.Config.API.OperatorToken != "" {
		return "api.operator_token (LGSP_API_OPERATOR_TOKEN)"
	}
	return filepath.Join(b.addrs.DataDir, "operator.token")
}

// followPolicies puts in force the agreements and agency registry that
// changed on disk — through another instance sharing policies.dir and
// policies.agencies_file, or by an operator editing the files — within
// policies.follow_every. A set that does not load is logged (once per
// distinct problem) and changes nothing, as a reload would.
func (b *Bus) followPolicies(ctx context.Context) {
	c := b.opts.Config
	if c.Policies.Dir == "" && c.Policies.AgenciesFile == "" {
		return // built into the binary: nothing can change
	}
	t := time.NewTicker(c.Policies.FollowEvery)
	defer t.Stop()
	lastProblem := ""
	agenciesDigest := fileDigest(c.Policies.AgenciesFile)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Read the folder under the lock an API change holds while it
		// writes the folder and puts the new set in force: read outside it,
		// an older folder could be put in force over the API's change.
		b.policyMu.Lock()
		ad := fileDigest(c.Policies.AgenciesFile)
		_, set, ags, err := loadPolicies(c) // about 15 small files
		if err != nil {
			b.policyMu.Unlock()
			if p := err.Error(); p != lastProblem {
				lastProblem = p
				b.log.Warn("agreements on disk changed but do not load; the ones in force stay", "error", err)
			}
			continue
		}
		lastProblem = ""
		if set.Digest() == b.Engine.Current().Digest() && ad == agenciesDigest {
			b.policyMu.Unlock()
			continue
		}
		_, err = b.putInForce(ctx, set, ags, store.AuditEntry{Actor: "lgsp", Action: "agreements.follow",
			Reason: "changed on disk (another instance or the operator); put in force on instance " + b.instanceID})
		b.policyMu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				b.log.Error("agreements changed on disk could not be put in force; retrying", "error", err)
			}
			continue
		}
		agenciesDigest = ad
	}
}

// fileDigest is the SHA-256 of a file's bytes ("" for no file).
func fileDigest(path string) string {
	if path == "" {
		return ""
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "unreadable"
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
