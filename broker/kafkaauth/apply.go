package kafkaauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Apply makes the cluster behind client hold cfg: it upserts the SCRAM
// credentials of the superuser and of every user, deletes the users in
// cfg.Remove, and for each of these users deletes the ACLs cfg does not
// list and creates the ones it lists. Users the bus does not manage (not in
// cfg) are left alone. It is idempotent; run it at start and after every
// agency, agreement or credential change.
//
// The client must be allowed to alter credentials and ACLs: the bus
// superuser on a cluster with ACLs, or any client on the embedded broker
// before ACLs are switched on (see broker/devkafka).
func Apply(ctx context.Context, client *kafka.Client, cfg *Config) error {
	if cfg == nil || cfg.Superuser.User == "" || cfg.Superuser.Password == "" {
		return errors.New("kafkaauth: Apply needs a Config with the bus superuser (Store.Config)")
	}
	if err := applyCredentials(ctx, client, cfg); err != nil {
		return err
	}
	return applyACLs(ctx, client, cfg)
}

func applyCredentials(ctx context.Context, client *kafka.Client, cfg *Config) error {
	bus, err := NewSecret(cfg.Superuser.Password, time.Now().UTC())
	if err != nil {
		return err
	}
	req := &kafka.AlterUserScramCredentialsRequest{
		Upsertions: []kafka.UserScramCredentialsUpsertion{upsertion(cfg.Superuser.User, bus)},
	}
	for _, u := range cfg.Users {
		if u.User == cfg.Superuser.User {
			return fmt.Errorf("kafkaauth: user %q is also the bus superuser; rename the agency or source", u.User)
		}
		req.Upsertions = append(req.Upsertions, upsertion(u.User, u.Secret))
	}
	for _, name := range cfg.Remove {
		req.Deletions = append(req.Deletions, kafka.UserScramCredentialsDeletion{Name: name, Mechanism: kafka.ScramMechanismSha512})
	}
	resp, err := client.AlterUserScramCredentials(ctx, req)
	if err != nil {
		return fmt.Errorf("kafkaauth: set SCRAM credentials (is Kafka reachable, and is the client the bus superuser?): %w", err)
	}
	var errs []error
	for _, r := range resp.Results {
		if r.Error != nil && !errors.Is(r.Error, kafka.ResourceNotFound) {
			errs = append(errs, fmt.Errorf("kafkaauth: SCRAM credential of %q: %w", r.User, r.Error))
		}
	}
	return errors.Join(errs...)
}

func upsertion(user string, s Secret) kafka.UserScramCredentialsUpsertion {
	return kafka.UserScramCredentialsUpsertion{
		Name:           user,
		Mechanism:      kafka.ScramMechanismSha512,
		Iterations:     s.Iterations,
		Salt:           s.Salt,
		SaltedPassword: s.SaltedPassword,
	}
}

// aclKey identifies one ACL binding.
type aclKey struct {
	resource kafka.ResourceType
	name     string
	pattern  kafka.PatternType
	host     string
	op       kafka.ACLOperationType
	perm     kafka.ACLPermissionType
}

func applyACLs(ctx context.Context, client *kafka.Client, cfg *Config) error {
	want := map[string][]ACL{}
	for _, u := range cfg.Users {
		want[u.User] = u.ACLs
	}
	for _, name := range cfg.Remove {
		if _, ok := want[name]; !ok {
			want[name] = nil
		}
	}
	var creates []kafka.ACLEntry
	var deletes []kafka.DeleteACLsFilter
	for user, acls := range want {
		principal := "User:" + user
		have, err := client.DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
			ResourceTypeFilter:        kafka.ResourceTypeAny,
			ResourcePatternTypeFilter: kafka.PatternTypeAny,
			PrincipalFilter:           principal,
			Operation:                 kafka.ACLOperationTypeAny,
			PermissionType:            kafka.ACLPermissionTypeAny,
		}})
		if err != nil {
			return fmt.Errorf("kafkaauth: list ACLs of %s (is the client the bus superuser?): %w", principal, err)
		}
		if have.Error != nil {
			return fmt.Errorf("kafkaauth: list ACLs of %s: %w", principal, have.Error)
		}
		wanted := map[aclKey]kafka.ACLEntry{}
		for _, a := range acls {
			e := a.Entry(user)
			wanted[entryKey(e)] = e
		}
		present := map[aclKey]bool{}
		for _, r := range have.Resources {
			for _, d := range r.ACLs {
				if d.Principal != principal {
					continue
				}
				k := aclKey{r.ResourceType, r.ResourceName, r.PatternType, d.Host, d.Operation, d.PermissionType}
				if _, ok := wanted[k]; ok {
					present[k] = true
					continue
				}
				deletes = append(deletes, kafka.DeleteACLsFilter{
					ResourceTypeFilter:        k.resource,
					ResourceNameFilter:        k.name,
					ResourcePatternTypeFilter: k.pattern,
					PrincipalFilter:           principal,
					HostFilter:                k.host,
					Operation:                 k.op,
					PermissionType:            k.perm,
				})
			}
		}
		for k, e := range wanted {
			if !present[k] {
				creates = append(creates, e)
			}
		}
	}
	var errs []error
	if len(deletes) > 0 {
		resp, err := client.DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: deletes})
		if err != nil {
			return fmt.Errorf("kafkaauth: delete stale ACLs: %w", err)
		}
		for _, r := range resp.Results {
			if r.Error != nil {
				errs = append(errs, fmt.Errorf("kafkaauth: delete stale ACL: %w", r.Error))
			}
		}
	}
	if len(creates) > 0 {
		resp, err := client.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: creates})
		if err != nil {
			return fmt.Errorf("kafkaauth: create ACLs: %w", err)
		}
		for i, e := range resp.Errors {
			if e != nil {
				errs = append(errs, fmt.Errorf("kafkaauth: create ACL %s on %s: %w", creates[i].Principal, creates[i].ResourceName, e))
			}
		}
	}
	return errors.Join(errs...)
}

func entryKey(e kafka.ACLEntry) aclKey {
	return aclKey{e.ResourceType, e.ResourceName, e.ResourcePatternType, e.Host, e.Operation, e.PermissionType}
}
