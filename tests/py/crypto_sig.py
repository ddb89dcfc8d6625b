"""crypto_sig.py: a deployed-peer stand-in for the signature tests (tests/sig_test.c).

Builds every content_sig / transport-sig byte form the way Python peers do
and signs or verifies it with pyca/cryptography. Exit 0 = done / verified,
1 = did not verify.

  sign_content   PRIV_PEM CT FROM TO TS OUT_DIR     TO "-" = public channel;
                 writes OUT_DIR/<form>.sig for every content form
  verify_content PRIV_PEM CT FROM TO TS FORM SIG    FORM "string" or "raw";
                 checks with the public half of PRIV_PEM
  sign_json      PRIV_PEM JSON_FILE SUFFIX OUT_DIR  SUFFIX "-" = none;
                 writes canonical, canonical-utf8, spaced, spaced-utf8,
                 string-sha256 (.sig) over json.dumps variants + SUFFIX
  verify_json    PRIV_PEM JSON_FILE SUFFIX SIG      canonical form + SUFFIX,
                 checked with the public half of PRIV_PEM
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def read(path):
    with open(path, "rb") as f:
        return f.read()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pss(salt):
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)


def content_forms(ct, frm, to, ts):
    fields = [frm] + ([to] if to is not None else []) + [str(ts)]
    string = (ct + "".join(fields)).encode()
    raw = unb64(ct) + "".join(fields).encode()
    obj = {"ciphertext": ct, "from": frm, "ts": ts}
    if to is not None:
        obj["to"] = to
    return {
        "string": string,
        "raw": raw,
        "string-sha256": hashlib.sha256(string).digest(),
        "raw-sha256": hashlib.sha256(raw).digest(),
        "pipes": "|".join([ct] + fields).encode(),
        "fields-json": json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(),
    }


def json_forms(value, suffix):
    def dump(ascii_only, spaced):
        seps = (", ", ": ") if spaced else (",", ":")
        return (json.dumps(value, sort_keys=True, separators=seps, ensure_ascii=ascii_only) + suffix).encode()
    canonical = dump(True, False)
    return {
        "canonical": canonical,
        "canonical-utf8": dump(False, False),
        "spaced": dump(True, True),
        "spaced-utf8": dump(False, True),
        "string-sha256": hashlib.sha256(canonical).digest(),
    }


def main(argv):
    cmd = argv[1]
    if cmd in ("sign_content", "verify_content"):
        key = serialization.load_pem_private_key(read(argv[2]), None)
        to = None if argv[5] == "-" else argv[5]
        forms = content_forms(argv[3], argv[4], to, int(argv[6]))
        if cmd == "sign_content":
            for i, (name, data) in enumerate(forms.items()):
                # Alternate the salt: max for most peers, 32 for WebCrypto ones.
                salt = padding.PSS.MAX_LENGTH if i % 2 == 0 else 32
                sig = key.sign(data, pss(salt), hashes.SHA256())
                with open(os.path.join(argv[7], name + ".sig"), "wb") as f:
                    f.write(b64url(sig))
            return 0
        sig = unb64(read(argv[8]).decode().strip())
        try:
            key.public_key().verify(sig, forms[argv[7]], pss(padding.PSS.MAX_LENGTH), hashes.SHA256())
        except InvalidSignature:
            return 1
        return 0
    if cmd in ("sign_json", "verify_json"):
        key = serialization.load_pem_private_key(read(argv[2]), None)
        value = json.loads(read(argv[3]).decode())
        suffix = "" if argv[4] == "-" else argv[4]
        forms = json_forms(value, suffix)
        if cmd == "sign_json":
            for name, data in forms.items():
                sig = key.sign(data, pss(padding.PSS.MAX_LENGTH), hashes.SHA256())
                with open(os.path.join(argv[5], name + ".sig"), "wb") as f:
                    f.write(b64url(sig))
            return 0
        sig = unb64(read(argv[5]).decode().strip())
        try:
            key.public_key().verify(sig, forms["canonical"], pss(padding.PSS.MAX_LENGTH), hashes.SHA256())
        except InvalidSignature:
            return 1
        return 0
    print("unknown command " + cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
