// Command kycvs is the kycvs OpenID provider: `kycvs serve` runs it; the
// other subcommands administer its database. This package parses flags and
// the environment and wires the packages together; it holds no logic of
// its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `kycvs: an OpenID Connect provider for vaccination status

Usage:
  kycvs serve [--dev] [flags]            run the server
  kycvs migrate up|status                apply or list database migrations
  kycvs clients create --name N --redirect-uri U [--redirect-uri U2] [--public] [--scope S]... [--json]
  kycvs clients list|show ID|delete ID|rotate-secret ID [--grace 24h] [--json]
  kycvs clients update ID [--name N] [--redirect-uri U]... [--scope S]... [--logo-uri U] [--contact E]... [...]
  kycvs clients disable ID | enable ID
  kycvs clients api-keys create CLIENT_ID | list [CLIENT_ID] | revoke KEY_ID [--json]
  kycvs keys list | rotate [--alg RS256|ES256] [--immediate] | retire KID [--withdraw]
  kycvs admin keys create --name N --role R | list | revoke KEY_ID     admin API keys
  kycvs admin users add --mobile M --name N --role R | list | set-role | remove   console users
  kycvs registry import FILE.csv|FILE.csv.gz|- [--delete-missing [--max-delete-fraction F] [--force]]
  kycvs bench [flags]                    drive complete verifications against a running server

Every flag also reads KYCVS_<FLAG_NAME> from the environment
(--database-url <-> KYCVS_DATABASE_URL). Run a subcommand with -h for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "kycvs:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "clients":
		return runClients(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "registry":
		return runRegistry(ctx, rest, stdout, stderr)
	case "admin":
		return runAdmin(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kycvs "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
