package kafkaauth

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// ACL is one permission of a principal: Allow operation on the topics or
// groups named Name (or, when Prefixed, every name starting with Name).
// Everything not allowed is denied.
type ACL struct {
	Resource  kafka.ResourceType
	Name      string
	Prefixed  bool
	Operation kafka.ACLOperationType
}

// String is "Read topic deliver.vss.*", for logs and test failures.
func (a ACL) String() string {
	name := a.Name
	if a.Prefixed {
		name += "*"
	}
	return fmt.Sprintf("%s %s %s", a.Operation, a.Resource, name)
}

// Entry is the ACL as a kafka-go ACL entry of principal.
func (a ACL) Entry(user string) kafka.ACLEntry {
	pt := kafka.PatternTypeLiteral
	if a.Prefixed {
		pt = kafka.PatternTypePrefixed
	}
	return kafka.ACLEntry{
		ResourceType:        a.Resource,
		ResourceName:        a.Name,
		ResourcePatternType: pt,
		Principal:           "User:" + user,
		Host:                "*",
		Operation:           a.Operation,
		PermissionType:      kafka.ACLPermissionTypeAllow,
	}
}

// Principal kinds.
const (
	KindConsumer = "consumer" // an agency that receives stream deliveries
	KindSource   = "source"   // a ministry source that publishes a dataset
)

// Principal is a Kafka user and what it may do.
type Principal struct {
	User string
	Kind string
	ACLs []ACL
}

// Inputs is what the principals derive from.
type Inputs struct {
	// Agencies is the registry; only active agencies get a user.
	Agencies *policies.Agencies
	// Agreements are the agreements in force; an agency with at least one
	// stream agreement is a consumer.
	Agreements []policies.Agreement
	// Sources are the dataset owners (see [Sources]).
	Sources []string
}

// Sources lists the distinct owners of the catalog's datasets, sorted.
func Sources(datasets []schemas.Dataset) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range datasets {
		if d.Owner != "" && !seen[d.Owner] {
			seen[d.Owner] = true
			out = append(out, d.Owner)
		}
	}
	sort.Strings(out)
	return out
}

// GroupPrefix is the consumer-group prefix a user may use: "<user>.", e.g.
// "vss.health-cards".
func GroupPrefix(user string) string { return user + "." }

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,79}$`)

// ConsumerACLs are the ACLs of a consumer agency: read the delivery topics
// of its stream agreements in force, each by its literal name (so removing
// an agreement closes its topic while the agency keeps the others), and use
// consumer groups named "<agency>.…".
func ConsumerACLs(agency string, topics []string) []ACL {
	var out []ACL
	for _, t := range topics {
		out = append(out,
			ACL{Resource: kafka.ResourceTypeTopic, Name: t, Operation: kafka.ACLOperationTypeRead},
			ACL{Resource: kafka.ResourceTypeTopic, Name: t, Operation: kafka.ACLOperationTypeDescribe})
	}
	return append(out,
		ACL{Resource: kafka.ResourceTypeGroup, Name: GroupPrefix(agency), Prefixed: true, Operation: kafka.ACLOperationTypeRead},
		ACL{Resource: kafka.ResourceTypeGroup, Name: GroupPrefix(agency), Prefixed: true, Operation: kafka.ACLOperationTypeDescribe})
}

// SourceACLs are the ACLs of a source: read its own dead-letter and
// feedback topics, and use consumer groups named "<source>.…" to do so.
// Sources hand records to the bus through connectors or HTTP push, never
// by writing to Kafka, so they may write no topic.
func SourceACLs(source string) []ACL {
	return []ACL{
		{Resource: kafka.ResourceTypeTopic, Name: contract.DeadLetterTopic(source), Operation: kafka.ACLOperationTypeRead},
		{Resource: kafka.ResourceTypeTopic, Name: contract.DeadLetterTopic(source), Operation: kafka.ACLOperationTypeDescribe},
		{Resource: kafka.ResourceTypeTopic, Name: contract.FeedbackTopic(source), Operation: kafka.ACLOperationTypeRead},
		{Resource: kafka.ResourceTypeTopic, Name: contract.FeedbackTopic(source), Operation: kafka.ACLOperationTypeDescribe},
		{Resource: kafka.ResourceTypeGroup, Name: GroupPrefix(source), Prefixed: true, Operation: kafka.ACLOperationTypeRead},
		{Resource: kafka.ResourceTypeGroup, Name: GroupPrefix(source), Prefixed: true, Operation: kafka.ACLOperationTypeDescribe},
	}
}

// Principals derives the Kafka users, sorted by name: every active agency
// with a stream agreement is a consumer, every source a source. A suspended
// or unregistered agency gets no user, so it cannot log in at all.
func Principals(in Inputs) ([]Principal, error) {
	if in.Agencies == nil {
		return nil, errors.New("kafkaauth: the agency registry is required (policies.LoadEmbeddedAgencies)")
	}
	consumers := map[string][]string{} // agency → its delivery topics
	for _, a := range in.Agreements {
		if a.Mode == policies.ModeStream && in.Agencies.Active(a.Consumer) {
			t := contract.DeliveryTopic(a.Consumer, a.Dataset)
			if !slices.Contains(consumers[a.Consumer], t) {
				consumers[a.Consumer] = append(consumers[a.Consumer], t)
			}
		}
	}
	var out []Principal
	for c, topics := range consumers {
		sort.Strings(topics)
		out = append(out, Principal{User: c, Kind: KindConsumer, ACLs: ConsumerACLs(c, topics)})
	}
	var errs []error
	seen := map[string]bool{}
	for _, s := range in.Sources {
		switch {
		case !sourceName.MatchString(s):
			errs = append(errs, fmt.Errorf("kafkaauth: source %q: want lowercase letters, digits, '_' and '-' (fix the owner in schemas/catalog.yaml)", s))
			continue
		case seen[s]:
			continue
		}
		seen[s] = true
		if _, ok := in.Agencies.Get(s); ok {
			errs = append(errs, fmt.Errorf("kafkaauth: source %q has the id of a registered agency; the two would share one Kafka user: rename one of them", s))
			continue
		}
		out = append(out, Principal{User: s, Kind: KindSource, ACLs: SourceACLs(s)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

// User is a principal with its stored credential.
type User struct {
	Principal
	Secret Secret
}

// Config is what a Kafka cluster must hold: the bus superuser, the users
// with their credentials and ACLs, and the users that must not exist.
type Config struct {
	// Superuser is the bus's own login; it bypasses ACLs.
	Superuser Credential
	// Users are the agency and source users.
	Users []User
	// Remove are users the bus issued once that must no longer log in
	// (revoked, suspended, or no longer in the registry or agreements):
	// their credentials and ACLs are deleted.
	Remove []string
}

// Config issues credentials to the principals that never had one and
// returns the cluster's configuration and the passwords issued now (by
// user; show them once, the store keeps only hashes). Reopening the same
// store gives the same credentials and issues nothing new. A principal
// whose credential was revoked stays off the cluster until [Store.Issue] or
// [Store.Rotate] gives it a new one.
func (s *Store) Config(in Inputs) (*Config, map[string]string, error) {
	ps, err := Principals(in)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, p := range ps {
		if _, ok := s.Secret(p.User); !ok {
			missing = append(missing, p.User)
		}
	}
	issued, err := s.Issue(missing...)
	if err != nil {
		return nil, nil, err
	}
	cfg := &Config{Superuser: s.Bus()}
	want := map[string]bool{}
	for _, p := range ps {
		sec, _ := s.Secret(p.User)
		if sec.Revoked() {
			continue
		}
		cfg.Users = append(cfg.Users, User{Principal: p, Secret: sec})
		want[p.User] = true
	}
	for _, u := range s.Users() {
		if !want[u] {
			cfg.Remove = append(cfg.Remove, u)
		}
	}
	return cfg, issued, nil
}
