package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/review"
)

func runUser(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "user", args, map[string]command{
		"create":         {"create a person who signs in to the review pages", userCreate},
		"list":           {"list the people", userList},
		"disable":        {"stop a person signing in, ending their sessions at once", userDisable},
		"enable":         {"let a disabled person sign in again", userEnable},
		"reset-password": {"set a new password, ending the person's sessions", userResetPassword},
	})
}

// openPeople opens the database, migrated, and the user store.
func openPeople(ctx context.Context, env *environment) (*review.People, func(), error) {
	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	// Migrations a first command applies are not this command's news.
	quiet := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := database.MigrateUp(ctx, pool, quiet); err != nil {
		closeDB()
		return nil, nil, err
	}
	return review.NewPeople(pool, nil), closeDB, nil
}

func userCreate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "user create", "user create --email EMAIL --role support|engineer|admin",
		"Create a person who signs in to the review pages. The password is read from the terminal (asked twice),\n"+
			"or from the first line of standard input when it is not a terminal; never from an argument.\n"+
			fmt.Sprintf("It must have at least %d characters.", review.MinPasswordLen))
	email := fs.String("email", "", "their email address, which they sign in with (required)")
	roleFlag := fs.String("role", "", "support, engineer or admin (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || *roleFlag == "" || fs.NArg() > 0 {
		fs.Usage()
		return usagef("user create: --email and --role are required, and nothing else (the password is read from the terminal or stdin)")
	}
	role, err := review.ParseRole(*roleFlag)
	if err != nil {
		return usagef("user create: --role %q: want support, engineer or admin", *roleFlag)
	}
	e, err := review.NormalizeEmail(*email)
	if err != nil {
		return usagef("user create: --email: %s", strings.TrimSuffix(err.Error(), ": "+derrors.Invalid.Error()))
	}
	pw, err := readNewPassword(env, e)
	if err != nil {
		return err
	}
	people, closeDB, err := openPeople(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	u, err := people.Create(ctx, e, role, pw)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.stdout, "created %s (%s), user %d\n", u.Email, u.Role, u.ID)
	return nil
}

func userList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "user list", "user list", "List the people who may sign in.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	people, closeDB, err := openPeople(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	users, err := people.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tCREATED\tDISABLED")
	for _, u := range users {
		disabled := "-"
		if u.DisabledAt != nil {
			disabled = u.DisabledAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, u.CreatedAt.UTC().Format(time.RFC3339), disabled)
	}
	return tw.Flush()
}

// emailCommand is a subcommand that acts on one person, named by --email
// or as the only argument.
func emailCommand(env *environment, name, summary string, args []string) (string, error) {
	fs := newFlags(env, "user "+name, "user "+name+" --email EMAIL", summary)
	email := fs.String("email", "", "the person's email address (required)")
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if *email == "" && fs.NArg() == 1 {
		*email = fs.Arg(0)
	} else if *email == "" || fs.NArg() > 0 {
		fs.Usage()
		return "", usagef("user %s: give the person's --email", name)
	}
	e, err := review.NormalizeEmail(*email)
	if err != nil {
		return "", usagef("user %s: --email: %s", name, strings.TrimSuffix(err.Error(), ": "+derrors.Invalid.Error()))
	}
	return e, nil
}

func userDisable(ctx context.Context, env *environment, args []string) error {
	return onPerson(ctx, env, "disable", "Stop a person signing in. Their open sessions stop working at once.", args,
		func(people *review.People, e string) (string, error) {
			return fmt.Sprintf("disabled %s; their sessions are ended", e), people.Disable(ctx, e)
		})
}

func userEnable(ctx context.Context, env *environment, args []string) error {
	return onPerson(ctx, env, "enable", "Let a disabled person sign in again, with their password.", args,
		func(people *review.People, e string) (string, error) {
			return fmt.Sprintf("enabled %s", e), people.Enable(ctx, e)
		})
}

// onPerson runs a subcommand that takes one person's email and changes
// them with do, printing do's message when it succeeds.
func onPerson(ctx context.Context, env *environment, name, help string, args []string,
	do func(people *review.People, email string) (string, error)) error {
	e, err := emailCommand(env, name, help, args)
	if err != nil {
		return err
	}
	people, closeDB, err := openPeople(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	msg, err := do(people, e)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintln(env.stdout, msg)
	return nil
}

func userResetPassword(ctx context.Context, env *environment, args []string) error {
	e, err := emailCommand(env, "reset-password", "Set a person's new password (from the terminal, or the first line of stdin).\n"+
		"Their open sessions end.", args)
	if err != nil {
		return err
	}
	pw, err := readNewPassword(env, e)
	if err != nil {
		return err
	}
	people, closeDB, err := openPeople(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := people.SetPassword(ctx, e, pw); err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.stdout, "set a new password for %s; their sessions are ended\n", e)
	return nil
}

// readNewPassword asks for a password twice on a terminal, or reads the
// first line of stdin, and checks it.
func readNewPassword(env *environment, email string) (string, error) {
	in := env.stdin
	if in == nil {
		in = strings.NewReader("")
	}
	var pw string
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.stderr, "New password for %s (at least %d characters): ", email, review.MinPasswordLen)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprintf(env.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(a) != string(b) {
			return "", usagef("the two passwords differ; nothing changed")
		}
		pw = string(a)
	} else {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("no password: type it at the prompt, or pipe it on stdin (printf '%%s\\n' \"$PW\" | omnitriage user …)")
		}
	}
	if err := review.CheckPassword(pw); err != nil {
		return "", usagef("%s", strings.TrimSuffix(err.Error(), ": "+derrors.Invalid.Error()))
	}
	return pw, nil
}

// cliError turns a store error of a kind a person can fix into its plain
// message, without the call chain.
func cliError(err error) error {
	for _, k := range []error{derrors.NotFound, derrors.Conflict, derrors.Invalid} {
		if errors.Is(err, k) {
			return errors.New(web.PublicMessage(err))
		}
	}
	return err
}
