package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestAuditTexts(t *testing.T) {
	testURL(t)
	storetest.RunAuditTexts(t, func(t *testing.T) (store.Store, func(string) int64) {
		u := freshSchema(t)
		s := open(t, u)
		return s, func(q string) int64 {
			conn, err := pgx.Connect(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var n int64
			if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}
	})
}
