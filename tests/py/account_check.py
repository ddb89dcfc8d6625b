"""account_check.py: the reference side of the account tests (tests/account_test.c).

An independent implementation of Impl14's account formats with pyca/cryptography
(/usr/bin/python3): Scrypt(n=2**14, r=8, p=1, length=32) and AESGCM, base64url
without padding, the store written by json.dumps. Secrets and values are passed
in files (a password never goes on a command line).
Exit status 0 = done / the check held; 1 = it did not.

  pake-make    PASS_FILE SALT_HEX OUT          b64url(salt) "." b64url(scrypt)
  pake-verify  PASS_FILE PAKE_FILE             0 if the password matches
  store-seal   PASS_FILE PLAIN_FILE OUT [SALT_HEX NONCE_HEX]   random when not given
  store-open   PASS_FILE STORE_FILE OUT        1 on a wrong password / altered store
"""
import base64
import json
import os
import sys

from cryptography.exceptions import InvalidKey, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def password(path):
    return read(path).decode("utf-8").encode("utf-8")  # as Impl14: str.encode("utf-8")


def b64u(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kdf(salt):
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1)


def main(argv):
    cmd = argv[1]
    if cmd == "pake-make":
        salt = bytes.fromhex(argv[3])
        key = kdf(salt).derive(password(argv[2]))
        write(argv[4], (b64u(salt) + "." + b64u(key)).encode("ascii"))
        return 0
    if cmd == "pake-verify":
        salt_text, key_text = read(argv[3]).decode("ascii").split(".")
        try:
            kdf(unb64u(salt_text)).verify(password(argv[2]), unb64u(key_text))
        except InvalidKey:
            return 1
        return 0
    if cmd == "store-seal":
        salt = bytes.fromhex(argv[5]) if len(argv) > 5 else os.urandom(16)
        nonce = bytes.fromhex(argv[6]) if len(argv) > 6 else os.urandom(12)
        blob = AESGCM(kdf(salt).derive(password(argv[2]))).encrypt(nonce, read(argv[3]), None)
        text = json.dumps({"salt": b64u(salt), "nonce": b64u(nonce), "blob": b64u(blob)})
        write(argv[4], text.encode("ascii"))
        return 0
    if cmd == "store-open":
        obj = json.loads(read(argv[3]))
        key = kdf(unb64u(obj["salt"])).derive(password(argv[2]))
        try:
            plain = AESGCM(key).decrypt(unb64u(obj["nonce"]), unb64u(obj["blob"]), None)
        except InvalidTag:
            return 1
        write(argv[4], plain)
        return 0
    print("unknown command", cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
