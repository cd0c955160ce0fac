package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kycvs/kycvs/claims"
)

func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return usageError{"usage: kycvs registry import FILE.csv"}
	}
	fs := newFlagSet("registry import", stderr)
	var d dbFlags
	d.register(fs)
	rest := args[1:]
	var file string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usageError{"usage: kycvs registry import FILE.csv"}
	}
	if err := d.resolve(false); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := openStore(ctx, d.DatabaseURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkSchema(ctx, st); err != nil {
		return err
	}
	// Through the admin service, so the import is in the audit log.
	res, err := cliService(st, d.Secret, nil).ImportRegistry(ctx, cliActor(), f)
	var ie *claims.ImportError
	if errors.As(err, &ie) {
		return fmt.Errorf("%s: nothing was imported:\n%v", file, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s: %d beneficiaries created, %d updated, %d doses\n", file, res.Created, res.Updated, res.Doses)
	return nil
}
