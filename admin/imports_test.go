package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// TestImportProgress: while an import runs, GET /registry/imports shows
// how far it has come; once it ends, what it wrote.
func TestImportProgress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix + "/registry/imports"
		viewer := ts.adminKey(admin.RoleViewer)
		list := func() []admin.ImportStatus {
			t.Helper()
			var out struct{ Items []admin.ImportStatus }
			resp := ts.call(http.MethodGet, p, viewer, nil)
			if resp.Status != http.StatusOK {
				t.Fatalf("GET imports: %d %s", resp.Status, resp.Body)
			}
			resp.json(t, &out)
			return out.Items
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := ts.svc.ImportRegistry(context.Background(), admin.Actor{Type: "cli", ID: "ops@host", Name: "ops"}, pr, claims.ImportOptions{})
			done <- err
		}()
		fmt.Fprintln(pw, "beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date")
		// Four chunks of the reader's checking workers and a part of one:
		// the records of the whole chunks are counted while the rest of
		// the file is still to come.
		const rows = 4*512 + 300
		for i := range rows {
			fmt.Fprintf(pw, "P%d,98%08d,Person %d,1980,,,,\n", i, i, i)
		}
		// The file is partly read: the import is loading and has counted rows.
		// SQLite's one connection is the import's until it ends, so the API
		// (which checks the key in the database) waits; the service answers.
		running := list
		if ts.st.Dialect() == store.SQLite {
			running = ts.svc.Imports
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			items := running()
			if len(items) == 1 && items[0].Progress.Phase == "loading" && items[0].Progress.Records >= 4*512 && items[0].Progress.Lines == rows+1 {
				if items[0].Actor != "ops" || items[0].Result != nil || items[0].Finished != nil {
					t.Errorf("a running import: %+v", items[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress while loading: %+v", items)
			}
			time.Sleep(20 * time.Millisecond)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		items := list()
		if len(items) != 1 || items[0].Progress.Phase != "done" || items[0].Result == nil || items[0].Result.Created != rows || items[0].Finished == nil {
			t.Errorf("a finished import: %+v", items)
		}
	})
}
