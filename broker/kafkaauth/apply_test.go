package kafkaauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// aclCount lists the ACL bindings of user on the cluster.
func aclCount(ctx context.Context, t *testing.T, c *kafka.Client, user string) int {
	t.Helper()
	resp, err := c.DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
		ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
		PrincipalFilter: "User:" + user, Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny,
	}})
	if err != nil || resp.Error != nil {
		t.Fatalf("describe ACLs: %v %v", err, resp.Error)
	}
	n := 0
	for _, r := range resp.Resources {
		n += len(r.ACLs)
	}
	return n
}

// Apply is idempotent, and a user that loses its access loses its ACLs,
// while a stale ACL of a managed user is deleted.
func TestApplyReconciles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	c := &kafka.Client{Addr: kafka.TCP(cluster.ListenAddrs()...), Timeout: 10 * time.Second}

	s, err := kafkaauth.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vssTopics := []string{"deliver.vss.civil_status.birth_registration", "deliver.vss.population.citizen"}
	in := kafkaauth.Inputs{
		Agencies:   agencies(t, registry),
		Agreements: []policies.Agreement{stream("vss"), streamOf("vss", "population.citizen"), stream("bank-vcb")},
		Sources:    []string{"land"},
	}
	cfg, _, err := s.Config(in)
	if err != nil {
		t.Fatal(err)
	}
	// A stale grant someone added by hand for a managed user.
	stale := kafkaauth.ACL{Resource: kafka.ResourceTypeTopic, Name: "land.", Prefixed: true, Operation: kafka.ACLOperationTypeRead}
	if _, err := c.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: []kafka.ACLEntry{stale.Entry("vss")}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := kafkaauth.Apply(ctx, c, cfg); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if got, want := aclCount(ctx, t, c, "vss"), len(kafkaauth.ConsumerACLs("vss", vssTopics)); got != want {
			t.Fatalf("apply %d: vss has %d ACLs, want %d", i, got, want)
		}
		if got, want := aclCount(ctx, t, c, "land"), len(kafkaauth.SourceACLs("land")); got != want {
			t.Fatalf("apply %d: land has %d ACLs, want %d", i, got, want)
		}
	}

	// bank-vcb's stream agreement ends: its user and ACLs go; vss loses one
	// of its two agreements: that topic closes, the other stays open.
	in.Agreements = []policies.Agreement{stream("vss")}
	cfg, _, err = s.Config(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkaauth.Apply(ctx, c, cfg); err != nil {
		t.Fatal(err)
	}
	if n := aclCount(ctx, t, c, "bank-vcb"); n != 0 {
		t.Fatalf("bank-vcb keeps %d ACLs after losing its stream agreement", n)
	}
	if got, want := aclCount(ctx, t, c, "vss"), len(kafkaauth.ConsumerACLs("vss", vssTopics[:1])); got != want {
		t.Fatalf("vss has %d ACLs after losing one agreement, want %d", got, want)
	}
	if err := kafkaauth.Apply(ctx, c, nil); err == nil {
		t.Fatal("Apply without a config must fail")
	}
}
