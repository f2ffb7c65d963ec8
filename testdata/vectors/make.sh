#!/usr/bin/env bash
# Remakes the fixed vector in this folder with Python's zipfile and OpenSSL,
# independently of capship's Go code, which the tests then check against it.
# The plain zip is fixed (timestamps and modes are set), so rerunning this
# gives the same files. Needs python3 and openssl.
set -euo pipefail
cd "$(dirname "$0")"
key=../keys/test.pem
aes_key=000102030405060708090a0b0c0d0e0f
iv=f0e1d2c3b4a5968778695a4b3c2d1e0f

python3 - <<'PY'
import zipfile
files = [
    ("index.html", b"<!doctype html><title>vector</title><script src=app.js></script>\n", zipfile.ZIP_DEFLATED),
    ("app.js", b"window.Capacitor?.Plugins?.CapacitorUpdater?.notifyAppReady();\n" * 20, zipfile.ZIP_DEFLATED),
    ("assets/", b"", zipfile.ZIP_STORED),
    ("assets/logo.png", bytes(range(256)), zipfile.ZIP_STORED),
    ("assets/caf\u00e9.txt", "caf\u00e9\n".encode(), zipfile.ZIP_STORED),
]
with zipfile.ZipFile("plain.zip", "w") as z:
    for name, data, method in files:
        zi = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
        zi.compress_type = method
        zi.create_system = 3
        zi.external_attr = ((0o40755 if name.endswith("/") else 0o100644) << 16) | (0x10 if name.endswith("/") else 0)
        z.writestr(zi, data)
PY

openssl enc -aes-128-cbc -K "$aes_key" -iv "$iv" -in plain.zip -out bundle.enc
enc_key=$(printf '%s' "$aes_key" | xxd -r -p | openssl pkeyutl -sign -inkey "$key" -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0)
session_key="$(printf '%s' "$iv" | xxd -r -p | base64 -w0):$enc_key"
zip_sha256=$(sha256sum plain.zip | cut -d' ' -f1)
checksum=$(printf '%s' "$zip_sha256" | xxd -r -p | openssl pkeyutl -sign -inkey "$key" -pkeyopt rsa_padding_mode:pkcs1 | xxd -p -c0)
enc_sha256=$(sha256sum bundle.enc | cut -d' ' -f1)
key_id=$(grep -v -- ----- ../keys/test.pub.pem | tr -d ' \t\r\n' | cut -c1-20)
fingerprint=sha256:$(openssl rsa -in "$key" -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
cat >vector.json <<JSON
{
  "aes_key": "$aes_key",
  "iv": "$iv",
  "zip_sha256": "$zip_sha256",
  "sha256": "$enc_sha256",
  "session_key": "$session_key",
  "checksum": "$checksum",
  "key_id": "$key_id",
  "key_fingerprint": "$fingerprint"
}
JSON
