package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/internal/auth"
)

func runAPIKey(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "apikey", args, map[string]command{
		"create": {"create a key and print it once", apikeyCreate},
		"list":   {"list keys (never their secrets)", apikeyList},
		"revoke": {"revoke a key by id", apikeyRevoke},
	})
}

func apikeyCreate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "apikey create", "apikey create --name NAME --role orchestrator|support|engineer|admin",
		"Create an API key. The key is printed once; only its hash is stored.")
	name := fs.String("name", "", "who or what uses the key (required)")
	roleFlag := fs.String("role", "", "orchestrator, support, engineer or admin (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" || *roleFlag == "" {
		fs.Usage()
		return usagef("apikey create: --name and --role are required")
	}
	role, err := auth.ParseRole(*roleFlag)
	if err != nil {
		return usagef("apikey create: --role %q: want orchestrator, support, engineer or admin", *roleFlag)
	}
	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	k, secret, err := auth.NewStore(pool, time.Minute, nil).Create(ctx, *name, role)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "created key %d (%s, role %s); store it now, it is not shown again:\n", k.ID, k.Name, k.Role)
	fmt.Fprintln(env.stdout, secret)
	return nil
}

func apikeyList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "apikey list", "apikey list", "List API keys.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	keys, err := auth.NewStore(pool, time.Minute, nil).List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tPREFIX\tCREATED\tLAST USED\tSTATE")
	for _, k := range keys {
		last, state := "never", "active"
		if k.LastUsedAt != nil {
			last = k.LastUsedAt.Format(time.DateTime)
		}
		if k.RevokedAt != nil {
			state = "revoked " + k.RevokedAt.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.Prefix, k.CreatedAt.Format(time.DateTime), last, state)
	}
	return tw.Flush()
}

func apikeyRevoke(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "apikey revoke", "apikey revoke ID", "Revoke the key with this id (see `apikey list`).")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("apikey revoke: give exactly one key id")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usagef("apikey revoke: %q is not a key id (a number from `apikey list`)", fs.Arg(0))
	}
	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := auth.NewStore(pool, time.Minute, nil).Revoke(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "revoked key %d\n", id)
	return nil
}
