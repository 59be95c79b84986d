package runtime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	_ "github.com/lgsp-bus/lgsp/connectors/files"
)

// A ministry's CSV export, with its own Vietnamese column names, is mapped
// by a configured `files` connector onto the shared dataset and published.
func TestConfiguredFilesConnector(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	dir := t.TempDir()
	c := devConfig(t, dir)
	bus := start(t, c) // seeds the population so the export can name real citizens
	people := citizens(t, bus.Store, 20)
	bus.Close(context.Background())

	var sb strings.Builder
	sb.WriteString("so_giay_chung_nhan,so_thua,ma_tinh,dien_tich,muc_dich,so_dinh_danh,ho_ten,ngay_sinh,ngay_cap\n")
	for i, p := range people {
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
	msgs := readAll(t, bus.Addrs().Kafka, "land.land_use_right.v1", len(people))
	if len(msgs) != len(people) {
		t.Fatalf("%d published", len(msgs))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := bus.Connectors()
		if len(st) == 1 && st[0].Acked == uint64(len(people)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector state %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A bad connector config stops the start and names the problem.
	c.Connectors = []config.Connector{{Name: "land", Adapter: "files", Config: map[string]any{"dataset": "land.land_use_right", "colums": map[string]any{}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.DataDir = t.TempDir()
	if _, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c)}); err == nil || !strings.Contains(err.Error(), "connectors[0] (land)") || !strings.Contains(err.Error(), "path") {
		t.Fatalf("bad connector config: %v", err)
	}
}
