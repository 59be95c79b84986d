package operatorclient_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/operatorclient"
)

// Save hands a certificate over as lgsp cert issue does: printed when the
// agency keeps its key, as files named after the agency and system
// otherwise, and a generated key never printed.
func TestSave(t *testing.T) {
	until := time.Date(2027, 12, 7, 10, 0, 0, 0, time.UTC)
	own := operatorclient.Issued{Serial: "0a1b", NotAfter: until, Certificate: "CERT\n", CACertificate: "CA\n"}
	generated := own
	generated.PrivateKey = "KEY\n"
	dir := t.TempDir()
	tests := []struct {
		name              string
		res               operatorclient.Issued
		req               operatorclient.IssueRequest
		dir               string
		wantOut, wantNote string
		wantFiles         []string
		wantErr           string
	}{
		{name: "printed", res: own, req: operatorclient.IssueRequest{Agency: "gdt"},
			wantOut: "CERT\n", wantNote: "certificate 0a1b for gdt, valid until 2027-12-07T10:00:00Z\n"},
		{name: "files of a system", res: generated, req: operatorclient.IssueRequest{Agency: "gdt", System: "etax"}, dir: filepath.Join(dir, "out"),
			wantOut:   "certificate 0a1b for gdt, valid until 2027-12-07T10:00:00Z\n  " + strings.Join([]string{filepath.Join(dir, "out", "gdt-etax.crt"), filepath.Join(dir, "out", "ca.crt"), filepath.Join(dir, "out", "gdt-etax.key")}, "\n  ") + "\n",
			wantFiles: []string{"gdt-etax.crt", "ca.crt", "gdt-etax.key"}},
		{name: "generated key not printed", res: generated, req: operatorclient.IssueRequest{Agency: "gdt"}, wantErr: "written only to a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, notes strings.Builder
			err := tt.res.Save(tt.dir, tt.req, &out, &notes)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(out.String(), "KEY") {
					t.Fatalf("err %v, out %q; want %q and no key", err, out.String(), tt.wantErr)
				}
				return
			}
			if err != nil || out.String() != tt.wantOut || notes.String() != tt.wantNote {
				t.Fatalf("err %v\nout %q\nwant %q\nnotes %q\nwant %q", err, out.String(), tt.wantOut, notes.String(), tt.wantNote)
			}
			for _, f := range tt.wantFiles {
				if fi, err := os.Stat(filepath.Join(tt.dir, f)); err != nil || strings.HasSuffix(f, ".key") && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v %v", f, fi, err)
				}
			}
		})
	}
}

// WriteList is lgsp cert list's table; a certificate of no system shows "-".
func TestWriteList(t *testing.T) {
	var b strings.Builder
	recs := []operatorclient.Cert{
		{Serial: "0a", Agency: "gdt", System: "etax", State: "valid", NotAfter: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)},
		{Serial: "0b", Agency: "vss", State: "revoked", NotAfter: time.Date(2027, 3, 4, 0, 0, 0, 0, time.UTC)},
	}
	if err := operatorclient.WriteList(&b, recs); err != nil {
		t.Fatal(err)
	}
	want := "SERIAL  AGENCY  SYSTEM  STATE    NOT AFTER\n" +
		"0a      gdt     etax    valid    2027-01-02\n" +
		"0b      vss     -       revoked  2027-03-04\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
