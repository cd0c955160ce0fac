package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// envName maps a flag to its environment variable: --database-url reads
// KYCVS_DATABASE_URL.
func envName(flagName string) string {
	return "KYCVS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses the flags wherever they stand among args, then fills
// every flag not given on the command line from its environment variable
// (command-line flags win), and returns the positional arguments: at most
// max of them. Go's flag package stops at the first positional, so
// `clients rotate-secret ID --grace 0` once dropped `--grace 0` without a
// word; here flags count on both sides of an ID, and "--" ends the flags.
// A mistake (an unknown flag, a bad value, one positional too many) is a
// usageError: exit status 2 and a message.
func parseFlags(fs *flag.FlagSet, args []string, max int) ([]string, error) {
	var positionals []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			positionals = append(positionals, left...)
			break
		}
		positionals = append(positionals, left[0])
		rest = left[1:]
	}
	if len(positionals) > max {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", positionals[max])}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if list, isList := f.Value.(*stringList); isList {
			*list = nil
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*list = append(*list, item)
				}
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	return positionals, nil
}

// stringList is a repeatable flag; from the environment it is comma-separated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// first is the first positional argument, or "".
func first(positionals []string) string {
	if len(positionals) == 0 {
		return ""
	}
	return positionals[0]
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
