package workflow

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrFileHashKey means a file hash does not open with the public key
// given: it was made with another key, or it is damaged.
var ErrFileHashKey = errors.New("file hash does not open with this public key")

// FileDigest recovers the SHA-256 of a plain file (lowercase hex) from
// the file_hash a delta release gives devices, as the plugin does before
// it compares a file: the V3 form (512 hex characters: PKCS#1 v1.5 type 1
// over the 32-byte digest, RSA private operation) is opened with the
// app's public key; the plain form of a release without a key (64 hex
// characters) is the digest itself. A hash made with another key, or in
// any other form, is an error wrapping ErrFileHashKey or
// ErrChecksumFormat.
func FileDigest(pub *rsa.PublicKey, fileHash string) (string, error) {
	if len(fileHash) == 2*sha256.Size && isLowerHex(fileHash) {
		return fileHash, nil
	}
	block, err := decodeChecksum(fileHash)
	if err != nil {
		return "", fmt.Errorf("read file hash: %w", err)
	}
	if pub == nil {
		return "", fmt.Errorf("read file hash: %w: it is encrypted, and no public key was given", ErrFileHashKey)
	}
	digest, err := rsaPublicOp(pub, block)
	if err != nil {
		return "", fmt.Errorf("read file hash: %w (%v)", ErrFileHashKey, err)
	}
	if len(digest) != sha256.Size {
		return "", fmt.Errorf("read file hash: %w: it holds %d bytes, not a 32-byte SHA-256", ErrFileHashKey, len(digest))
	}
	return hex.EncodeToString(digest), nil
}
