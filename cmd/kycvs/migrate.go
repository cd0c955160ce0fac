package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		return usageError{"usage: kycvs migrate up|status [--database-url URL]"}
	}
	fs := newFlagSet("migrate "+args[0], stderr)
	var d dbFlags
	d.register(fs)
	if _, err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	if err := d.resolve(false); err != nil {
		return err
	}
	st, err := openStore(ctx, d.DatabaseURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := st.DB()
	if err != nil {
		return err
	}
	dialect := migrations.Dialect(st.Dialect())
	if args[0] == "up" {
		n, err := migrations.Up(ctx, db, dialect)
		if err != nil {
			return store.WithPoolerHint(err)
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
		return nil
	}
	list, err := migrations.List(ctx, db, dialect)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tFILE\tAPPLIED")
	for _, m := range list {
		fmt.Fprintf(tw, "%d\t%s\t%v\n", m.Version, m.Source, m.Applied)
	}
	return tw.Flush()
}
