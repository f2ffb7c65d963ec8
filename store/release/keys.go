package release

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"capship/store"
	"capship/workflow"
)

// ConfigWrite says when CreateKey and ImportKey write the key's public
// half into the app's Capacitor config.
type ConfigWrite int

const (
	ConfigLeave     ConfigWrite = iota // never touch the config
	ConfigIfMissing                    // only when the config has no publicKey yet (`key import`)
	ConfigAlways                       // whatever the config holds (`key create`)
)

// KeyRequest is what CreateKey and ImportKey work on.
type KeyRequest struct {
	AppID string
	// ConfigPath is the app's Capacitor config, ConfigPublicKey the
	// publicKey text it holds now ("" for none); ConfigPath "" for no
	// config at all.
	ConfigPath      string
	ConfigPublicKey string
	Config          ConfigWrite
	// Replace lets a new key take the place of another one the keychain
	// holds for the app; the old one is archived, never deleted. Without
	// it that is a *KeyExistsError. (The CLI's --force, the wizard's
	// replace key.)
	Replace bool
}

// KeyFacts is what CreateKey or ImportKey did, for the caller to tell.
type KeyFacts struct {
	AppID          string
	Key            *rsa.PrivateKey
	KeyID          string
	KeyFingerprint string
	StoredIn       string // where the keychain keeps it, in words
	Archived       string // name the replaced key is archived under; "" when none was replaced
	Unchanged      bool   // ImportKey: the keychain already held this very key; nothing changed
	// Config is the config compared with ("" for none); ConfigWritten says
	// whether the public key was written there; ConfigKey is how the
	// config's publicKey relates to the key afterwards, with the config's
	// own key when it differs and the reason when it is unusable.
	Config           string
	ConfigWritten    bool
	ConfigKey        workflow.ConfigKey
	ConfigOtherKey   *rsa.PublicKey
	ConfigKeyProblem error
}

// KeyExistsError: the app already has another key in the keychain and
// the request did not ask to replace it. It errors.Is store.ErrKeyExists.
// KeyID and KeyFingerprint are the stored key's ("" when it is not a
// usable key).
type KeyExistsError struct {
	AppID, KeyID, KeyFingerprint string
}

func (e *KeyExistsError) Error() string {
	id := "a key"
	if e.KeyID != "" {
		id = "key " + e.KeyID + " (" + e.KeyFingerprint + ")"
	}
	return e.AppID + " already has " + id + " in the keychain; replacing it archives it, and apps already installed with its public key reject bundles built with the new one"
}

func (e *KeyExistsError) Is(target error) bool { return target == store.ErrKeyExists }

// CreateKey makes a new RSA-2048 key pair for req.AppID, stores the
// private key in the keychain (archiving the old one with req.Replace) and,
// as req.Config says, writes the public key into the config. It is `key
// create` and the wizard's "create a new keypair". When the config write
// fails, the key is in the keychain: the facts say so beside the error
// (workflow.SetPublicKey's, which carries the snippet to paste).
func CreateKey(ctx context.Context, kc *store.Keychain, req KeyRequest) (*KeyFacts, error) {
	if err := workflow.ValidAppID(req.AppID); err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	old, err := storedKey(kc, req.AppID)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	if old != nil && !req.Replace {
		return nil, fmt.Errorf("create key: %w", existing(req.AppID, old))
	}
	key, err := workflow.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := putKey(kc, req, key, old != nil)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	return f, f.writeConfig(req)
}

// ImportKey stores the private key file at path as req.AppID's key (an
// existing PKCS#1 PEM, such as Capgo's .capgo_key_v2) and, as req.Config
// says, writes its public key into the config. Importing the key the
// keychain already holds changes nothing (Unchanged). It is `key import`
// and the wizard's "import a key file".
func ImportKey(ctx context.Context, kc *store.Keychain, req KeyRequest, path string) (*KeyFacts, error) {
	if err := workflow.ValidAppID(req.AppID); err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	key, err := workflow.ReadPrivateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	old, err := storedKey(kc, req.AppID)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	var f *KeyFacts
	switch {
	case old != nil && old.Key != nil && old.Key.Equal(key):
		f = facts(kc, req.AppID, key)
		f.Unchanged = true
	case old != nil && !req.Replace:
		return nil, fmt.Errorf("import key: %w", existing(req.AppID, old))
	default:
		if f, err = putKey(kc, req, key, old != nil); err != nil {
			return nil, fmt.Errorf("import key: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return f, err
	}
	return f, f.writeConfig(req)
}

// AppKey reads the private key the keychain holds under name (an app id,
// or an archived key's name). store.ErrNoKey when there is none; a stored
// value that is not a usable key is an error naming it (errors.Is
// workflow.ErrKeyFormat or workflow.ErrKeySize). It is how `bundle build`,
// the key and config commands and the wizard read an app's key.
func AppKey(kc *store.Keychain, name string) (*rsa.PrivateKey, error) {
	pemText, err := kc.Get(name)
	if err != nil {
		return nil, err
	}
	key, err := workflow.ParsePrivateKey(pemText)
	if err != nil {
		return nil, fmt.Errorf("read key %s from the keychain: the stored value is not a usable key: %w", name, err)
	}
	return key, nil
}

// WritePublicKey writes the public half of the key the keychain holds for
// req.AppID into the config at req.ConfigPath, unless req.ConfigPublicKey
// is that key already (then ConfigWritten is false). It is `config
// set-key` and the wizard's "write the public key". store.ErrNoKey when
// the keychain holds no key for the app; a refused config edit is
// workflow.SetPublicKey's error, which carries the snippet to paste.
func WritePublicKey(kc *store.Keychain, req KeyRequest) (*KeyFacts, error) {
	key, err := AppKey(kc, req.AppID)
	if err != nil {
		return nil, fmt.Errorf("write public key: %w", err)
	}
	f := facts(kc, req.AppID, key)
	req.Config = ConfigAlways
	if err := f.writeConfig(req); err != nil {
		return nil, err
	}
	return f, nil
}

// stored is what the keychain holds for an app: the parsed key, or nil
// when the stored value is not a usable key.
type stored struct{ Key *rsa.PrivateKey }

// storedKey reads the app's key; nil, nil when there is none.
func storedKey(kc *store.Keychain, appID string) (*stored, error) {
	pemText, err := kc.Get(appID)
	if errors.Is(err, store.ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, _ := workflow.ParsePrivateKey(pemText)
	return &stored{Key: key}, nil
}

func existing(appID string, old *stored) *KeyExistsError {
	e := &KeyExistsError{AppID: appID}
	if old.Key != nil {
		e.KeyID, e.KeyFingerprint = workflow.KeyID(&old.Key.PublicKey), workflow.Fingerprint(&old.Key.PublicKey)
	}
	return e
}

// putKey puts key into the keychain: Replace archives what was there.
func putKey(kc *store.Keychain, req KeyRequest, key *rsa.PrivateKey, had bool) (*KeyFacts, error) {
	f := facts(kc, req.AppID, key)
	pemText := workflow.EncodePrivateKey(key)
	var err error
	if had {
		f.Archived, err = kc.Replace(req.AppID, pemText)
	} else {
		err = kc.Set(req.AppID, pemText)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

func facts(kc *store.Keychain, appID string, key *rsa.PrivateKey) *KeyFacts {
	return &KeyFacts{AppID: appID, Key: key, KeyID: workflow.KeyID(&key.PublicKey),
		KeyFingerprint: workflow.Fingerprint(&key.PublicKey), StoredIn: kc.Where()}
}

// writeConfig compares the config's publicKey with the key and writes the
// public key there as req.Config says.
func (f *KeyFacts) writeConfig(req KeyRequest) error {
	if req.ConfigPath == "" {
		return nil
	}
	f.Config = req.ConfigPath
	pub := &f.Key.PublicKey
	f.ConfigKey, f.ConfigOtherKey, f.ConfigKeyProblem = workflow.CompareConfigKey(req.ConfigPublicKey, pub)
	write := req.Config == ConfigAlways && f.ConfigKey != workflow.ConfigKeyMatches ||
		// A CR in an empty-looking value is left to the person: the edit
		// would not remove it.
		req.Config == ConfigIfMissing && f.ConfigKey == workflow.ConfigKeyMissing && !strings.ContainsRune(req.ConfigPublicKey, '\r')
	if !write {
		return nil
	}
	if err := workflow.SetPublicKey(req.ConfigPath, string(workflow.EncodePublicKey(pub))); err != nil {
		return err
	}
	f.ConfigWritten, f.ConfigKey, f.ConfigOtherKey, f.ConfigKeyProblem = true, workflow.ConfigKeyMatches, nil, nil
	return nil
}
