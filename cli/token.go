package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"capship/store"
)

// newTokenCmd is "token": the admin API tokens of 'capship serve', kept in
// the registry.
func newTokenCmd(s IO) *cobra.Command {
	return newParentCmd("token", "Create, list and revoke admin API tokens",
		"Tokens let CI and laptops use the admin API of 'capship serve' (--server and --token).\n"+
			"They are the server's own administration, kept in its registry: these commands run where the\n"+
			"registry is (--db or $CAPSHIP_DB), never through --server.",
		groupServer,
		newTokenCreateCmd(s), newTokenListCmd(s), newTokenRevokeCmd(s))
}

// tokensLocal says where the token commands run.
const tokensLocal = "Tokens are the server's own administration: this runs where its registry is (--db or\n$CAPSHIP_DB), never through --server."

func newTokenCreateCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an admin API token (shown once)",
		Long:    "Create a token for the admin API of 'capship serve'. The token is printed once, on stdout.\n" + tokensLocal,
		Example: "  capship token create ci --app com.example.shop",
		Args:    exactlyOne("token NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenCreate(cmd.Context(), s, o, args[0])
		},
	}
	addAppFlag(cmd.Flags(), &o.app, "limit the token to this app (default: every app)")
	addRegistryFlags(cmd.Flags(), o, 0)
	return cmd
}

func runTokenCreate(ctx context.Context, s IO, o *registryOptions, name string) error {
	reg, err := o.openLocal(ctx, s, creates)
	if err != nil {
		return err
	}
	defer reg.Close()
	secret, tok, err := reg.CreateToken(ctx, name, o.app)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(s.Out, struct {
			*store.Token
			Secret string `json:"token"`
		}{tok, secret})
	}
	fmt.Fprintln(s.Out, secret)
	fmt.Fprintf(s.Err, "created token %s (id %d); it is shown only this once: store it in your CI's secrets\n", name, tok.ID)
	fmt.Fprintln(s.Err, "use it with: capship bundle upload and capship release register, --server URL --token TOKEN (or CAPSHIP_SERVER=URL CAPSHIP_TOKEN=TOKEN)")
	return nil
}

func newTokenListCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List admin API tokens",
		Long:  "List admin API tokens (never their secrets).\n" + tokensLocal,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runTokenList(cmd.Context(), s, o) },
	}
	addRegistryFlags(cmd.Flags(), o, 0)
	return cmd
}

func runTokenList(ctx context.Context, s IO, o *registryOptions) error {
	reg, err := o.openLocal(ctx, s, reads)
	if err != nil {
		return err
	}
	defer reg.Close()
	tokens, err := reg.Tokens(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(s.Out, map[string]any{"tokens": nonNil(tokens)})
	}
	if len(tokens) == 0 {
		fmt.Fprintln(s.Err, "no tokens: create one with 'capship token create NAME'")
		return nil
	}
	rows := make([][]string, 0, len(tokens))
	for _, t := range tokens {
		status := "active"
		if t.RevokedAt != nil {
			status = "revoked " + when(t.RevokedAt)
		}
		rows = append(rows, []string{strconv.FormatInt(t.ID, 10), t.Name, dash(t.AppID), when(&t.CreatedAt), when(t.LastUsedAt), status})
	}
	table(s, "ID\tNAME\tAPP\tCREATED\tLAST USED\tSTATUS", rows)
	return nil
}

func newTokenRevokeCmd(s IO) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:     "revoke NAME|ID",
		Short:   "Revoke an admin API token",
		Long:    "Revoke an admin API token; servers refuse it from the next request on.\n" + tokensLocal,
		Example: "  capship token revoke ci",
		Args:    exactlyOne("token NAME or ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRevoke(cmd.Context(), s, o, args[0])
		},
	}
	addRegistryFlags(cmd.Flags(), o, 0)
	return cmd
}

func runTokenRevoke(ctx context.Context, s IO, o *registryOptions, name string) error {
	reg, err := o.openLocal(ctx, s, changes)
	if err != nil {
		return err
	}
	defer reg.Close()
	if err := reg.RevokeToken(ctx, name); err != nil {
		return missing(err, whatToken, name)
	}
	if o.json {
		return writeJSON(s.Out, map[string]any{"revoked": name})
	}
	fmt.Fprintf(s.Err, "revoked token %s\n", name)
	return nil
}
