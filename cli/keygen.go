package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"capship/workflow"
)

// keygenOptions are the flags of key generate.
type keygenOptions struct {
	privOut, pubOut string
	json            bool
}

// newKeyGenerateCmd is "key generate", which writes a new pair to files.
func newKeyGenerateCmd(s IO) *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "generate --private-out FILE --public-out FILE",
		Short: "Make an RSA-2048 key pair in two files (Capgo format)",
		Long: "Create an RSA-2048 key pair in PKCS#1 PEM files, as Capgo's .capgo_key_v2 and .capgo_key_v2.pub.\n" +
			"Both files are created with mode 0600; existing files are never overwritten.",
		Example: "  capship key generate --private-out .capgo_key_v2 --public-out .capgo_key_v2.pub",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runKeyGenerate(cmd.Context(), s, o) },
	}
	cmd.Flags().StringVar(&o.privOut, "private-out", "", "new `file` for the private key (keep it secret, never commit it)")
	cmd.Flags().StringVar(&o.pubOut, "public-out", "", "new `file` for the public key (it goes into the app's Capacitor config)")
	addJSONFlag(cmd.Flags(), &o.json, "")
	return cmd
}

func runKeyGenerate(ctx context.Context, s IO, o *keygenOptions) error {
	privOut, pubOut := o.privOut, o.pubOut
	if privOut == "" || pubOut == "" {
		return usageError("--private-out and --public-out are both required")
	}
	if filepath.Clean(privOut) == filepath.Clean(pubOut) {
		return usageError("--private-out and --public-out must be different files")
	}
	// Refuse before the slow part if either file is there.
	for _, p := range []string{privOut, pubOut} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("generate key: %s already exists; capship never overwrites a key file: pick another name or move it away", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("generate key: %w", err)
		}
	}
	key, err := workflow.GenerateKey()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := workflow.WriteKeyFile(privOut, workflow.EncodePrivateKey(key)); err != nil {
		return keyFileError(err, privOut)
	}
	if err := workflow.WriteKeyFile(pubOut, workflow.EncodePublicKey(&key.PublicKey)); err != nil {
		os.Remove(privOut) // we just made it; a lone private key only confuses
		return keyFileError(err, pubOut)
	}
	result := struct {
		PrivateKeyFile string `json:"private_key_file"`
		PublicKeyFile  string `json:"public_key_file"`
		KeyID          string `json:"key_id"`
		KeyFingerprint string `json:"key_fingerprint"`
	}{privOut, pubOut, workflow.KeyID(&key.PublicKey), workflow.Fingerprint(&key.PublicKey)}
	if o.json {
		return writeJSON(s.Out, result)
	}
	fmt.Fprintf(s.Err, "wrote private key to %s (mode 0600: keep it secret, never commit it)\n", privOut)
	fmt.Fprintf(s.Err, "wrote public key to %s\n", pubOut)
	fmt.Fprintf(s.Err, "key id %s, fingerprint %s\n", result.KeyID, result.KeyFingerprint)
	fmt.Fprintf(s.Err, "next: put the public key into your app's Capacitor config (plugins.CapacitorUpdater.publicKey)\n")
	return nil
}

func keyFileError(err error, path string) error {
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("generate key: %s already exists; capship never overwrites a key file", path)
	}
	return fmt.Errorf("generate key: %w", err)
}
