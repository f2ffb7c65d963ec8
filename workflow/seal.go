package workflow

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// SessionKeySize is the size of the AES-128 key and of the CBC IV (spec §2.3).
const SessionKeySize = 16

// rsaBlockSize is the size of every RSA-2048 output the plugin accepts.
const rsaBlockSize = KeyBits / 8

// sealChunk is how many bytes the CBC writer and reader work on at a time.
const sealChunk = 64 << 10

var (
	// ErrSessionKey means a session key string is malformed or does not
	// decrypt with the public key.
	ErrSessionKey = errors.New("invalid session key")
	// ErrChecksumMismatch means the encrypted checksum does not match the
	// bundle: wrong key, wrong bundle or damaged bytes.
	ErrChecksumMismatch = errors.New("checksum does not match the bundle")
	// ErrChecksumFormat means the checksum is not the V3 encrypted form.
	ErrChecksumFormat = errors.New("checksum is not the V3 encrypted form")
	// ErrCiphertext means the encrypted bytes do not decrypt: wrong session
	// key, or a damaged or truncated file.
	ErrCiphertext = errors.New("bundle does not decrypt")
)

// cbcWriter encrypts with AES-128-CBC and PKCS#7 padding as bytes stream
// through it; Close writes the last, padded block. Memory stays at one chunk.
type cbcWriter struct {
	dst  io.Writer
	mode cipher.BlockMode
	buf  []byte // pending plaintext, always fewer than sealChunk+BlockSize bytes
	err  error
}

// NewEncryptWriter returns a writer that encrypts to dst with AES-128-CBC and
// PKCS#7 padding. The caller must Close it to write the final block; Close
// does not close dst.
func NewEncryptWriter(dst io.Writer, key, iv []byte) (io.WriteCloser, error) {
	mode, err := cbcMode(key, iv, cipher.NewCBCEncrypter)
	if err != nil {
		return nil, err
	}
	return &cbcWriter{dst: dst, mode: mode, buf: make([]byte, 0, sealChunk+aes.BlockSize)}, nil
}

func cbcMode(key, iv []byte, mk func(cipher.Block, []byte) cipher.BlockMode) (cipher.BlockMode, error) {
	if len(key) != SessionKeySize || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: AES-128 needs a 16-byte key and a 16-byte IV", ErrSessionKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSessionKey, err)
	}
	return mk(block, iv), nil
}

func (w *cbcWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		take := min(len(p), sealChunk-len(w.buf))
		w.buf = append(w.buf, p[:take]...)
		p, n = p[take:], n+take
		if len(w.buf) == sealChunk {
			if err := w.flush(w.buf); err != nil {
				return n, err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

func (w *cbcWriter) flush(b []byte) error {
	w.mode.CryptBlocks(b, b)
	if _, err := w.dst.Write(b); err != nil {
		w.err = fmt.Errorf("write encrypted bundle: %w", err)
		return w.err
	}
	return nil
}

// reset makes w encrypt a new stream to dst with mode, reusing its buffer.
func (w *cbcWriter) reset(dst io.Writer, mode cipher.BlockMode) {
	w.dst, w.mode, w.buf, w.err = dst, mode, w.buf[:0], nil
}

// Close pads and writes the last block. It may be called once.
func (w *cbcWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	pad := aes.BlockSize - len(w.buf)%aes.BlockSize
	for range pad {
		w.buf = append(w.buf, byte(pad))
	}
	err := w.flush(w.buf)
	w.buf = w.buf[:0] // kept for reset
	if err == nil {
		w.err = errors.New("write encrypted bundle: writer already closed")
	}
	return err
}

// cbcReader decrypts AES-128-CBC as bytes stream through it and strips the
// PKCS#7 padding at the end. It always holds back the last block it has seen
// until it knows whether more follow.
type cbcReader struct {
	src  io.Reader
	mode cipher.BlockMode
	buf  []byte // ciphertext read ahead
	dec  []byte // reused buffer for decrypted blocks
	out  []byte // decrypted bytes not yet returned (a slice of dec)
	done bool
	err  error
}

// NewDecryptReader returns a reader of the plaintext of src, which holds
// AES-128-CBC ciphertext with PKCS#7 padding. A length that is not a
// multiple of 16, or bad padding, is ErrCiphertext at the end of the stream.
func NewDecryptReader(src io.Reader, key, iv []byte) (io.Reader, error) {
	mode, err := cbcMode(key, iv, cipher.NewCBCDecrypter)
	if err != nil {
		return nil, err
	}
	return &cbcReader{src: src, mode: mode, buf: make([]byte, 0, sealChunk+aes.BlockSize)}, nil
}

func (r *cbcReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// fill reads more ciphertext and decrypts all complete blocks but the last.
func (r *cbcReader) fill() {
	n, err := io.ReadAtLeast(r.src, r.buf[len(r.buf):cap(r.buf)], 1)
	r.buf = r.buf[:len(r.buf)+n]
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		r.finish()
		return
	}
	if err != nil {
		r.err = fmt.Errorf("read encrypted bundle: %w", err)
		return
	}
	whole := len(r.buf) / aes.BlockSize * aes.BlockSize
	if whole == len(r.buf) {
		whole -= aes.BlockSize // hold back the last block: it may be the padded one
	}
	if whole <= 0 {
		return
	}
	if cap(r.dec) < whole {
		r.dec = make([]byte, whole)
	}
	out := r.dec[:whole]
	r.mode.CryptBlocks(out, r.buf[:whole])
	r.out = out
	r.buf = r.buf[:copy(r.buf, r.buf[whole:])]
}

func (r *cbcReader) finish() {
	r.err = io.EOF
	if len(r.buf) == 0 || len(r.buf)%aes.BlockSize != 0 {
		r.err = fmt.Errorf("%w: the file is truncated or is not AES-CBC data (its length is not a multiple of 16)", ErrCiphertext)
		return
	}
	out := make([]byte, len(r.buf))
	r.mode.CryptBlocks(out, r.buf)
	r.buf = r.buf[:0]
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		r.err = fmt.Errorf("%w: bad padding (wrong session key, or damaged file)", ErrCiphertext)
		return
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			r.err = fmt.Errorf("%w: bad padding (wrong session key, or damaged file)", ErrCiphertext)
			return
		}
	}
	r.out = out[:len(out)-pad]
	if len(r.out) == 0 {
		r.out = nil
	}
}

// rsaPrivateOp is Node's privateEncrypt: PKCS#1 v1.5 type 1 padding over msg
// and the RSA private operation, 256 bytes.
func rsaPrivateOp(key *rsa.PrivateKey, msg []byte) ([]byte, error) {
	out, err := rsa.SignPKCS1v15(nil, key, crypto.Hash(0), msg)
	if err != nil {
		return nil, fmt.Errorf("rsa private operation: %w", err)
	}
	return out, nil
}

// rsaPublicOp is Node's publicDecrypt: the RSA public operation on block and
// removal of PKCS#1 v1.5 type 1 padding. It returns the message.
func rsaPublicOp(pub *rsa.PublicKey, block []byte) ([]byte, error) {
	if len(block) != rsaBlockSize || pub.N.BitLen() != KeyBits {
		return nil, fmt.Errorf("RSA block is %d bytes, want %d", len(block), rsaBlockSize)
	}
	c := new(big.Int).SetBytes(block)
	if c.Cmp(pub.N) >= 0 {
		return nil, errors.New("RSA block out of range for this key")
	}
	m := new(big.Int).Exp(c, big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, rsaBlockSize))
	// 00 01 FF..FF (at least 8) 00 message
	if em[0] != 0 || em[1] != 1 {
		return nil, errors.New("RSA block does not decrypt with this public key")
	}
	i := 2
	for i < len(em) && em[i] == 0xff {
		i++
	}
	if i-2 < 8 || i == len(em) || em[i] != 0 {
		return nil, errors.New("RSA block does not decrypt with this public key")
	}
	return em[i+1:], nil
}

// SessionKeyString returns the string devices receive as session_key
// (spec §2.5): base64(IV) ":" base64(RSA private op over the AES key).
func SessionKeyString(priv *rsa.PrivateKey, key, iv []byte) (string, error) {
	if len(key) != SessionKeySize || len(iv) != aes.BlockSize {
		return "", fmt.Errorf("make session key: %w: need a 16-byte key and IV", ErrSessionKey)
	}
	enc, err := rsaPrivateOp(priv, key)
	if err != nil {
		return "", fmt.Errorf("make session key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(iv) + ":" + base64.StdEncoding.EncodeToString(enc), nil
}

// ParseSessionKey splits a session key string into its IV (16 bytes) and its
// RSA-encrypted AES key (256 bytes). It is as strict as the Capgo CLI and the
// iOS plugin: standard padded base64, no white space, exact sizes.
func ParseSessionKey(s string) (iv, encKey []byte, err error) {
	ivPart, keyPart, ok := strings.Cut(s, ":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: want IV:KEY (two base64 parts joined by a colon)", ErrSessionKey)
	}
	if strings.Contains(keyPart, ":") {
		return nil, nil, fmt.Errorf("%w: more than one colon", ErrSessionKey)
	}
	iv, err = decodeStrictBase64(ivPart)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: IV part: %v", ErrSessionKey, err)
	}
	if len(iv) != aes.BlockSize {
		return nil, nil, fmt.Errorf("%w: IV is %d bytes, want 16", ErrSessionKey, len(iv))
	}
	encKey, err = decodeStrictBase64(keyPart)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key part: %v", ErrSessionKey, err)
	}
	if len(encKey) != rsaBlockSize {
		return nil, nil, fmt.Errorf("%w: encrypted key is %d bytes, want %d (from an RSA-2048 key)", ErrSessionKey, len(encKey), rsaBlockSize)
	}
	return iv, encKey, nil
}

// decodeStrictBase64 accepts only standard, padded base64 without white
// space (Go's decoder would skip CR and LF; devices do not).
func decodeStrictBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, fmt.Errorf("character %q at %d is not standard base64", c, i)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not standard padded base64")
	}
	return b, nil
}

// RecoverSessionKey parses a session key string and recovers the AES key
// and IV with the public key, as a device does.
func RecoverSessionKey(pub *rsa.PublicKey, sessionKey string) (key, iv []byte, err error) {
	iv, encKey, err := ParseSessionKey(sessionKey)
	if err != nil {
		return nil, nil, err
	}
	key, err = rsaPublicOp(pub, encKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v (wrong public key?)", ErrSessionKey, err)
	}
	if len(key) != SessionKeySize {
		return nil, nil, fmt.Errorf("%w: the AES key is %d bytes, want 16", ErrSessionKey, len(key))
	}
	return key, iv, nil
}

// EncryptedChecksum returns the V3 checksum devices receive (spec §2.6):
// lowercase hex of the RSA private op over the 32 digest bytes, 512 chars.
func EncryptedChecksum(priv *rsa.PrivateKey, zipSHA256 []byte) (string, error) {
	if len(zipSHA256) != 32 {
		return "", fmt.Errorf("make checksum: digest is %d bytes, want 32", len(zipSHA256))
	}
	out, err := rsaPrivateOp(priv, zipSHA256)
	if err != nil {
		return "", fmt.Errorf("make checksum: %w", err)
	}
	return hex.EncodeToString(out), nil
}

// VerifyChecksum checks a V3 encrypted checksum against the SHA-256 of the
// plain zip, as plugin 8.x does. It says clearly when the checksum is an
// older or unencrypted form (ErrChecksumFormat).
func VerifyChecksum(pub *rsa.PublicKey, checksum string, zipSHA256 []byte) error {
	sig, err := decodeChecksum(checksum)
	if err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), zipSHA256, sig); err != nil {
		return ErrChecksumMismatch
	}
	return nil
}

// decodeChecksum returns the RSA block of a V3 checksum.
func decodeChecksum(checksum string) ([]byte, error) {
	switch {
	case checksum == "":
		return nil, fmt.Errorf("%w: the checksum is empty; an app with a public key refuses updates without one", ErrChecksumFormat)
	case len(checksum) == 64 && isLowerHex(checksum):
		return nil, fmt.Errorf("%w: this is a plain SHA-256; an app with a public key needs the encrypted checksum (512 hex characters)", ErrChecksumFormat)
	case len(checksum) != 2*rsaBlockSize:
		return nil, fmt.Errorf("%w: it is %d characters, want 512 hex characters (plugin 8.x rejects older forms: rebuild the bundle with capship)", ErrChecksumFormat, len(checksum))
	case !isLowerHex(checksum):
		return nil, fmt.Errorf("%w: want 512 lowercase hex characters", ErrChecksumFormat)
	}
	return hex.DecodeString(checksum)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
