package devkafka_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// authBroker starts the embedded broker with the real registry's users and
// one record on vss's delivery topic.
func authBroker(t *testing.T) (addr string, issued map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, cfg, issued := authConfig(t, dir)
	b, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(dir, "kafka"), Auth: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	busSetup(ctx, t, b.Addr(), cfg.Superuser, vssTopic)
	return b.Addr(), issued
}

// roundTrip sends req on conn and reads its answer.
func roundTrip(t *testing.T, conn net.Conn, req kmsg.Request, corr int32) kmsg.Response {
	t.Helper()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("lgsp-test")).AppendRequest(nil, req, corr)); err != nil {
		t.Fatal(err)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatalf("%s answer: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(hdr[4:])); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		body = body[1:] // response header v1: its (empty) tagged fields
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	return resp
}

// Regression (issue 17): with auth on, the broker advertised only version 1
// of the SASL handshake and answered it with no mechanism list, so
// librdkafka ("SASL Handshake not supported by broker") and KafkaJS
// ("mechanism is not supported by the server") could not log in. It now
// answers as Kafka does.
func TestAuthBrokerAnswersSASLLikeKafka(t *testing.T) {
	addr, _ := authBroker(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	av := kmsg.NewPtrApiVersionsRequest()
	av.Version, av.ClientSoftwareName, av.ClientSoftwareVersion = 3, "lgsp-test", "1"
	avResp := roundTrip(t, conn, av, 1).(*kmsg.ApiVersionsResponse)
	ranges := map[int16][2]int16{}
	for _, k := range avResp.ApiKeys {
		ranges[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	if r := ranges[kmsg.SASLHandshake.Int16()]; r != [2]int16{0, 1} {
		t.Errorf("SaslHandshake versions %d–%d, want 0–1 (librdkafka needs 0 in the range)", r[0], r[1])
	}
	if r, ok := ranges[kmsg.SASLAuthenticate.Int16()]; !ok || r[0] != 0 {
		t.Errorf("SaslAuthenticate versions %v (advertised: %v), want from 0", r, ok)
	}
	if r := ranges[kmsg.Fetch.Int16()]; r[1] < 11 {
		t.Errorf("Fetch versions %v: the other keys must pass unchanged", r)
	}

	for _, tc := range []struct {
		mechanism string
		wantErr   int16
	}{
		{"GSSAPI", 33}, // UNSUPPORTED_SASL_MECHANISM, answered by kfake itself
		{"SCRAM-SHA-512", 0},
	} {
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, tc.mechanism
		resp := roundTrip(t, conn, hs, 2).(*kmsg.SASLHandshakeResponse)
		if resp.ErrorCode != tc.wantErr || !slices.Contains(resp.SupportedMechanisms, "SCRAM-SHA-512") {
			t.Errorf("handshake %s: error %d, mechanisms %v; want error %d and SCRAM-SHA-512 listed", tc.mechanism, resp.ErrorCode, resp.SupportedMechanisms, tc.wantErr)
		}
	}

	// A refused login is answered SASL_AUTHENTICATION_FAILED before the
	// connection closes, not by a bare hang-up.
	for _, v := range []int16{0, 1, 2} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		roundTrip(t, conn, hs, 1)
		auth := kmsg.NewPtrSASLAuthenticateRequest()
		auth.Version, auth.SASLAuthBytes = v, []byte("\x00vss\x00wrong")
		resp := roundTrip(t, conn, auth, 2).(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != 58 || resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, "Authentication failed") {
			t.Errorf("SaslAuthenticate v%d with a wrong password: error %d %v, want 58 (SASL_AUTHENTICATION_FAILED)", v, resp.ErrorCode, resp.ErrorMessage)
		}
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("v%d: the connection stays open after a failed login", v)
		}
		conn.Close()
	}
}

// kcat (librdkafka) logs in with SCRAM-SHA-512 and reads the agency's
// delivery topic, alone and in its consumer group as the README shows; a
// wrong password is refused.
func TestKcatLogsInWithSCRAM(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (apt-get install kcat; .ci/run installs it)")
	}
	addr, issued := authBroker(t)
	sasl := func(user, pass string) []string {
		return []string{"-b", addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, kcat, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	want := "v:" + vssTopic
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"simple consumer", []string{"-C", "-t", vssTopic, "-o", "beginning", "-c", "1", "-e"}},
		{"consumer group", []string{"-X", "auto.offset.reset=earliest", "-G", "vss.cards", vssTopic, "-c", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(append(sasl("vss", issued["vss"]), tc.args...)...)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("kcat: %v\n%s", err, out)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		out, err := run(append(sasl("vss", issued["vss"]+"x"), "-L", "-m", "5")...)
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("kcat with a wrong password: %v\n%s", err, out)
		}
	})
}
