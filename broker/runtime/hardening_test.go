package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	_ "github.com/lgsp-bus/lgsp/connectors/files"
)

// A record whose key is about 1 MB is dead-lettered with the reason, over
// HTTP push (a 422 the client cannot mistake for "retry") and through a
// files connector (the valid rows behind it are published; the connector
// does not sit in back-off).
func TestOversizedKeyIsDeadLetteredAndTheRestFlows(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	dir := t.TempDir()
	c := devConfig(t, dir)
	bus := start(t, c)
	people := citizens(t, bus.Store, 6)
	api := "http://" + bus.Addrs().API
	token := sourceToken(t, bus, "civil_status")
	bad := birthRow(0, people[0])
	bad["registration_no"] = strings.Repeat("7", 1<<20)
	body, _ := json.Marshal(map[string]any{"records": []any{
		map[string]any{"dataset": "civil_status.birth_registration", "op": "c", "after": bad},
		map[string]any{"dataset": "civil_status.birth_registration", "op": "c", "after": birthRow(1, people[1])},
	}})
	code, raw := postAs(t, api+"/v1/sources/civil_status/records", token, "application/json", body)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), contract.KindTooLarge) || !strings.Contains(string(raw), `"published"`) {
		t.Fatalf("push with a 1 MB key: %d %.300s", code, raw)
	}
	dl := readAll(t, bus.Addrs().Kafka, "dlq.civil_status", 1)
	if envelope.HeaderValue(dl[0].Headers, contract.HeaderErrorKind) != contract.KindTooLarge {
		t.Fatalf("dead letter kind %q", envelope.HeaderValue(dl[0].Headers, contract.HeaderErrorKind))
	}
	bus.Close(context.Background())

	// The same through a files connector: one bad row, five good ones.
	var sb strings.Builder
	sb.WriteString("so_giay_chung_nhan,so_thua,ma_tinh,dien_tich,muc_dich,so_dinh_danh,ho_ten,ngay_sinh,ngay_cap\n")
	fmt.Fprintf(&sb, "%s,1/12,%s,100.5,ODT,%s,%s,%s,2021-06-15\n", strings.Repeat("K", 1<<20), people[0].BirthProvince, people[0].ID, people[0].FullName, people[0].DOB)
	for i, p := range people[1:] {
		fmt.Fprintf(&sb, "CS%06d,%d/12,%s,%d.5,ODT,%s,%s,%s,2021-06-15\n", i, i, p.BirthProvince, 100+i, p.ID, p.FullName, p.DOB)
	}
	export := filepath.Join(dir, "so_hong.csv")
	if err := os.WriteFile(export, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Connectors = []config.Connector{{Name: "land", Adapter: "files", Config: map[string]any{
		"path": export, "dataset": "land.land_use_right",
		"types": map[string]any{"dien_tich": "number"},
		"columns": map[string]any{"so_giay_chung_nhan": "certificate_no", "so_thua": "parcel_id", "ma_tinh": "province_code", "dien_tich": "area_m2",
			"muc_dich": "land_use_purpose", "so_dinh_danh": "holder_cccd", "ho_ten": "holder_name", "ngay_sinh": "holder_dob", "ngay_cap": "issued_on"},
	}}}
	bus = start(t, c)
	defer bus.Close(context.Background())
	if msgs := readAll(t, bus.Addrs().Kafka, "land.land_use_right.v1", 5); len(msgs) != 5 {
		t.Fatalf("%d of the 5 valid rows published", len(msgs))
	}
	if dl := readAll(t, bus.Addrs().Kafka, "dlq.land", 1); envelope.HeaderValue(dl[0].Headers, contract.HeaderErrorKind) != contract.KindTooLarge {
		t.Fatalf("files dead letter: %v", dl[0].Headers)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := bus.Connectors()
		if len(st) == 1 && st[0].Acked == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector did not acknowledge all six rows: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Both listeners cut a client that stalls its body, and cap the uploads
// one credential has in progress; the bus serves normally afterwards.
func TestStalledUploadsAreCutOnEveryListener(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	c := devConfig(t, t.TempDir())
	c.HTTP.BodyTimeout, c.HTTP.UploadsPerCredential, c.HTTP.Uploads = time.Second, 2, 8
	bus := start(t, c)
	defer bus.Close(context.Background())
	token := sourceToken(t, bus, "civil_status")
	for _, l := range []struct{ name, addr, path string }{
		{"api", bus.Addrs().API, "/v1/sources/civil_status/records"},
		{"registry", bus.Addrs().Registry, "/subjects/x-value/versions"},
	} {
		t.Run(l.name, func(t *testing.T) {
			stalled := func() net.Conn {
				conn, err := net.Dial("tcp", l.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"re", l.path, token, 8<<20)
				return conn
			}
			a, b := stalled(), stalled()
			time.Sleep(200 * time.Millisecond) // orders the third after the first two; nothing is timed
			third := stalled()
			_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
			head, _ := io.ReadAll(io.LimitReader(third, 64))
			if !strings.HasPrefix(string(head), "HTTP/1.1 429") {
				t.Fatalf("third upload of one credential: %q", head)
			}
			for _, conn := range []net.Conn{a, b} {
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, err := io.Copy(io.Discard, conn)
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("a stalled upload was not cut")
				}
			}
		})
	}
	resp, err := http.Get("http://" + bus.Addrs().API + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bus after the stalls: %v %v", resp, err)
	}
	resp.Body.Close()
}
