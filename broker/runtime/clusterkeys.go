package runtime

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// sharedSecret is a secret every instance sharing the store must hold
// alike, with the setting that gives it.
type sharedSecret struct {
	key, env, generated string // config key, variable, file generated in the data dir when unset
	secret              []byte
}

// fingerprint is a keyed digest of the secret: equal secrets give equal
// fingerprints, and the fingerprint tells nothing of the secret.
func (s sharedSecret) fingerprint() string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("lgsp cluster key fingerprint v1\x00" + s.key))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// checkClusterKeys makes this instance refuse to start when one of its
// shared secrets differs from the one the instances sharing its store use
// (the first instance to start records their fingerprints). Without it, an
// instance with its own generated keys would sign checkpoints no other
// instance can verify and key citizens' entries so that no search finds
// them.
func checkClusterKeys(ctx context.Context, st store.ClusterKeyStore, instance string, secrets []sharedSecret) error {
	for _, s := range secrets {
		inForce, by, err := st.ClaimClusterKey(ctx, s.key, s.fingerprint(), instance)
		if err != nil {
			return fmt.Errorf("shared keys: %w", err)
		}
		if inForce != s.fingerprint() {
			hint := "set it in the config or the environment"
			if s.generated != "" {
				hint += fmt.Sprintf(" (this instance generated its own into %s because none was set)", s.generated)
			}
			return fmt.Errorf("%s (env %s) on this instance (%s) differs from the one the bus instances sharing this store use (first recorded by instance %s): "+
				"every instance must hold the same value; %s, to the same value on every instance", s.key, s.env, instance, by, hint)
		}
	}
	return nil
}

// clusterSecrets are this configuration's shared secrets, read the way
// the bus reads them at start (configured, or generated once into the
// data dir).
func clusterSecrets(c config.Config, operatorToken string, hmacKey []byte, signingSeed []byte) ([]sharedSecret, error) {
	gen := func(set bool, file string) string {
		if set {
			return ""
		}
		return file
	}
	citizen := c.Audit.CitizenTokenKey
	if citizen == "" {
		var err error
		if citizen, err = secretHex(c.DataDir, "citizen-token.key", 32); err != nil {
			return nil, err
		}
	}
	return []sharedSecret{
		{"audit.hmac_key", "LGSP_AUDIT_HMAC_KEY", gen(c.Audit.HMACKey != "", "audit.key"), hmacKey},
		{"audit.signing_key", "LGSP_AUDIT_SIGNING_KEY", gen(c.Audit.SigningKey != "", "audit-signing.key"), signingSeed},
		{"audit.citizen_token_key", "LGSP_AUDIT_CITIZEN_TOKEN_KEY", gen(c.Audit.CitizenTokenKey != "", "citizen-token.key"), []byte(citizen)},
		{"api.operator_token", "LGSP_API_OPERATOR_TOKEN", gen(c.API.OperatorToken != "", "operator.token"), []byte(operatorToken)},
	}, nil
}
