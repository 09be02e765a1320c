"""Well-formed, random, fake credentials for every provider (CREDENTIAL-FORMATS.md shapes).

Made fresh at test time: nothing here is, or ever was, a real key.
"""

from __future__ import annotations

import json
import secrets
import string

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B32 = string.ascii_uppercase + "234567"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """``n`` characters of ``alphabet``; of the default one, at least one digit from 8 characters on: a
    generated token holds one, and a letters-only value reads as a word to the scanner (a test whose
    random token came out without a digit failed about once in 300 runs)."""
    out = [secrets.choice(alphabet) for _ in range(n)]
    if alphabet == ALNUM and n >= 8:
        out[secrets.randbelow(n)] = secrets.choice(string.digits)
    return "".join(out)


def openai_project_key() -> str:
    return "sk-proj-" + rand(74, URLSAFE) + "T3BlbkFJ" + rand(74, URLSAFE)


def openai_service_account_key() -> str:
    return "sk-svcacct-" + rand(74, URLSAFE) + "T3BlbkFJ" + rand(74, URLSAFE)


def openai_admin_key() -> str:
    return "sk-admin-" + rand(58, URLSAFE) + "T3BlbkFJ" + rand(58, URLSAFE)


def openai_legacy_key() -> str:
    return "sk-" + rand(20) + "T3BlbkFJ" + rand(20)


def anthropic_key() -> str:
    return "sk-ant-api03-" + rand(93, URLSAFE) + "AA"


def anthropic_admin_key() -> str:
    return "sk-ant-admin01-" + rand(93, URLSAFE) + "AA"


def groq_key() -> str:
    return "gsk_" + rand(52)


def aws_access_key_id(temporary: bool = False) -> str:
    return ("ASIA" if temporary else "AKIA") + rand(16, B32)


def aws_secret_access_key() -> str:
    return rand(40, ALNUM + "/+")


def azure_openai_key() -> str:
    # 84 characters, JQQJ99 at offset 52 and the ACOG signature near the end
    return rand(52) + "JQQJ99" + rand(3) + "ACOG" + rand(19)


def azure_legacy_key() -> str:
    return rand(32, "0123456789abcdef")


def entra_client_secret() -> str:
    return rand(3, ALNUM) + secrets.choice("78") + "Q~" + rand(34, ALNUM + "_~.-")


HEX = "0123456789abcdef"


def gemini_key() -> str:
    return "AIza" + rand(35, URLSAFE)


def mistral_key() -> str:
    return rand(32)


def xai_key() -> str:
    return "xai-" + rand(80)


def openrouter_key() -> str:
    return "sk-or-v1-" + rand(64, HEX)


def deepseek_key() -> str:
    return "sk-" + rand(32, HEX)


def together_key() -> str:
    return rand(64, HEX)


def deepinfra_key() -> str:
    return rand(32)


def cohere_key() -> str:
    return rand(40)


def bedrock_api_key() -> str:
    # long-term key: "ABSK" + base64("BedrockAPIKey-" + id + ":" + secret)
    import base64

    raw = f"BedrockAPIKey-{rand(24)}-at-{rand(12, string.digits)}:{rand(40, ALNUM + '/+')}"
    return "ABSK" + base64.b64encode(raw.encode()).decode()


def generic_key() -> str:
    return "tok-" + rand(40)


def aws_credentials_file(key_id: str | None = None, secret: str | None = None) -> str:
    return (
        "[default]\n"
        f"aws_access_key_id = {key_id or aws_access_key_id()}\n"
        f"aws_secret_access_key = {secret or aws_secret_access_key()}\n"
    )


def pem_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    # cheap parameters: 1024 bits is a real RSA key to every parser and signer the tests use, at a fifth
    # of 2048's cost to generate and to load (cryptography checks the key each time it is loaded)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def gcp_service_account(project: str = "demo-project") -> dict[str, str]:
    email = f"aigw@{project}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": rand(40, "0123456789abcdef"),
        "private_key": pem_private_key(),
        "client_email": email,
        "client_id": rand(21, string.digits),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email.replace('@', '%40')}",
        "universe_domain": "googleapis.com",
    }


def gcp_service_account_json(project: str = "demo-project") -> str:
    return json.dumps(gcp_service_account(project), indent=2)
