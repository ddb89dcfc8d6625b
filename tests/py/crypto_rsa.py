"""crypto_rsa.py: the reference side of the RSA interop tests (tests/rsa_test.c).

Uses pyca/cryptography (/usr/bin/python3). Every value is passed in files.
Exit status 0 = the operation succeeded / the check held; 1 = it did not.

  sign     PRIV_PEM MSG SIG_OUT max|32
  verify   KEY_FILE MSG SIG max|auto|32     KEY_FILE: private PEM or public PEM
  encrypt  PUB_PEM MSG CT_OUT
  decrypt  PRIV_PEM CT PT_OUT
  loadpub  FILE b64der|b64pem|pem PRIV_PEM  FILE must hold PRIV_PEM's public key
  exportpub PRIV_PEM OUT_DIR                writes every encoding we accept
"""
import base64
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def load_any(path):
    data = read(path)
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, None).public_key(), data
    return serialization.load_pem_public_key(data), data


def private(path):
    return serialization.load_pem_private_key(read(path), None)


def oaep():
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def pss(salt):
    length = {"max": padding.PSS.MAX_LENGTH, "auto": padding.PSS.AUTO}.get(salt)
    if length is None:
        length = int(salt)
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=length)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def main(argv):
    cmd = argv[1]
    if cmd == "sign":
        write(argv[4], private(argv[2]).sign(read(argv[3]), pss(argv[5]), hashes.SHA256()))
        return 0
    if cmd == "verify":
        pub, _ = load_any(argv[2])
        try:
            pub.verify(read(argv[4]), read(argv[3]), pss(argv[5]), hashes.SHA256())
        except InvalidSignature:
            return 1
        return 0
    if cmd == "encrypt":
        pub, _ = load_any(argv[2])
        write(argv[4], pub.encrypt(read(argv[3]), oaep()))
        return 0
    if cmd == "decrypt":
        write(argv[4], private(argv[2]).decrypt(read(argv[3]), oaep()))
        return 0
    if cmd == "loadpub":
        text = read(argv[2]).strip()
        form = argv[3]
        if form == "b64der":
            pub = serialization.load_der_public_key(base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4)))
        elif form == "b64pem":
            pub = serialization.load_pem_public_key(base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4)))
        else:
            pub = serialization.load_pem_public_key(text)
        want = private(argv[4]).public_key().public_numbers()
        return 0 if pub.public_numbers() == want else 1
    if cmd == "exportpub":
        pub = private(argv[2]).public_key()
        out = argv[3]
        spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        pkcs1 = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        pem1 = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        write(os.path.join(out, "spki_std_padded"), base64.b64encode(spki))
        write(os.path.join(out, "spki_url"), b64url(spki))
        write(os.path.join(out, "pkcs1_url"), b64url(pkcs1))
        write(os.path.join(out, "pkcs1_std_padded"), base64.b64encode(pkcs1))
        write(os.path.join(out, "pem"), pem)
        write(os.path.join(out, "pkcs1_pem"), pem1)
        write(os.path.join(out, "pem_url"), b64url(pem))
        write(os.path.join(out, "pem_std_padded"), base64.b64encode(pem))
        write(os.path.join(out, "pkcs1_pem_url"), b64url(pem1))
        return 0
    print("unknown command " + cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
