package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchPush is a typical push of one update of about 1 KB.
var benchPush = []byte(`{"records":[{"dataset":"land.land_use_right","op":"u","before":{"certificate_no":"CS012345","parcel_id":"12/34",` +
	`"province_code":"001","address":"Số 12 ngõ 34 phố Hàng Bạc, phường Hàng Đào, quận Hoàn Kiếm, thành phố Hà Nội, Việt Nam (gần chợ Đồng Xuân)","area_m2":118.25,` +
	`"land_use_purpose":"ONT","holder_cccd":"001090012345","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2019-04-05"},` +
	`"after":{"certificate_no":"CS012345","parcel_id":"12/34","province_code":"001",` +
	`"address":"Số 12 ngõ 34 phố Hàng Bạc, phường Hàng Đào, quận Hoàn Kiếm, thành phố Hà Nội, Việt Nam (gần chợ Đồng Xuân)","area_m2":120.5,` +
	`"land_use_purpose":"ODT","holder_cccd":"001090012345","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2020-05-06"}}]}`)

// BenchmarkDecodePush: the strict decoder against the lenient one it
// replaced (oldDecodePush, kept here only to compare).
func BenchmarkDecodePush(b *testing.B) {
	b.Logf("body is %d bytes", len(benchPush))
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(benchPush)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePush(benchPush); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("old_lenient", func(b *testing.B) {
		b.SetBytes(int64(len(benchPush)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := oldDecodePush(benchPush); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// oldDecodePush is the decoding of a push before strictjson, without its
// error answers.
func oldDecodePush(body []byte) ([]pushRecord, error) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw["records"], &items); err != nil {
		return nil, err
	}
	out := make([]pushRecord, len(items))
	for i, it := range items {
		d := json.NewDecoder(strings.NewReader(string(it)))
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
