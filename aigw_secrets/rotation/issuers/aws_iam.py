"""AWS IAM access keys of one IAM user (Bedrock static credentials), through boto3.

Mint = ``CreateAccessKey`` on ``ai_gateway_bedrock_iam_user``, then the key's description as the
console keeps it (a user tag whose key is the access key id) = the deterministic name. Revoke =
``UpdateAccessKey Inactive``, then ``DeleteAccessKey`` after a further wait. IAM allows two keys per
user: an inactive key this tool created is deleted to make room; anything else needs ``--force``
or the operator. Admin credentials: boto3's own chain (environment, ``AIGW_SECRETS_AWS_ADMIN_PROFILE``,
IRSA/Pod Identity); endpoint: ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_IAM`` (boto3 reads them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aigw_secrets.errors import ConfigError
from aigw_secrets.rotation.issuers.interface import (
    AdminRejected,
    Issuer,
    IssuerError,
    Key,
    KeyLimit,
    Minted,
    admin_deadline,
    lazy,
    setting,
)
from aigw_secrets.rotation.journal import crash_point
from aigw_secrets.stores.aws import DENIED, client_config, quiet_logs, through_http


class AwsIam(Issuer):
    kind = "aws-iam"
    soft_revoke = True

    def __init__(self, pc: Any) -> None:
        super().__init__(pc)
        self.user = setting(pc, "iam_user")
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            boto3 = lazy("boto3", "aws")
            deadline = admin_deadline()
            with quiet_logs():
                session = boto3.session.Session(profile_name=os.environ.get("AIGW_SECRETS_AWS_ADMIN_PROFILE") or None)
                region = self.pc.settings.get("region") or "us-east-1"
                self._client = session.client("iam", region_name=region, config=client_config(deadline))
            through_http(self._client, deadline)
        return self._client

    def _call(self, op: str, **kwargs: Any) -> Any:
        botocore = lazy("botocore.exceptions", "aws")
        try:
            with quiet_logs():  # botocore's DEBUG records carry response bodies: a new key's secret
                return getattr(self.client(), op)(**kwargs)
        except botocore.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            where = f"AWS IAM {op} on user {self.user}"
            if code in DENIED:
                raise AdminRejected(
                    f"{where}: the admin credential was rejected ({code}); it needs iam:{op} on the user"
                ) from None
            if code == "LimitExceeded":
                raise KeyLimit(f"{where}: the user already has 2 access keys ({code})") from None
            if code == "NoSuchEntity" and op not in ("delete_access_key", "update_access_key", "untag_user"):
                raise ConfigError(f"{where}: no such IAM user (ai_gateway_bedrock_iam_user)") from None
            if code == "NoSuchEntity":
                return None  # already gone
            raise IssuerError(f"{where} failed ({code or 'error'})") from None
        except (botocore.BotoCoreError, OSError) as exc:
            raise IssuerError(f"AWS IAM {op}: no answer ({type(exc).__name__})") from None

    def listed(self) -> list[Key]:
        listed = self._call("list_access_keys", UserName=self.user)["AccessKeyMetadata"]
        tags = {t["Key"]: t["Value"] for t in self._call("list_user_tags", UserName=self.user).get("Tags", [])}
        return [
            Key(k["AccessKeyId"], tags.get(k["AccessKeyId"], ""), k["Status"] == "Active", _epoch(k.get("CreateDate")))
            for k in listed
        ]

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        """The access key id in the credentials file, if it is one of this user's keys."""
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(value)
            key_id = parser["default"]["aws_access_key_id"].strip()
        except (configparser.Error, KeyError):
            return set()
        return {k.ref for k in keys if k.ref == key_id}

    def make_room(
        self, *, force: bool = False, keep: str | None = None, revoke: Callable[[str], None] | None = None
    ) -> None:
        keys = self.listed()
        if len(keys) < 2:
            return
        ours_inactive = [k for k in keys if not k.active and self.minted_for(k) and k.ref != keep]
        others_inactive = [k for k in keys if not k.active and k.ref != keep]
        victims = ours_inactive or (others_inactive if force else [])
        if not victims:
            refs = ", ".join(k.ref for k in keys if k.ref != keep)
            raise KeyLimit(
                f"AWS IAM user {self.user} already has 2 access keys and none is an inactive key this tool created; "
                f"revoke the old one first: aigw-secrets rotate --revoke bedrock --ref {refs}"
            )
        (revoke or self.delete)(victims[0].ref)

    def mint(self, name: str) -> Minted:
        key = self._call("create_access_key", UserName=self.user)["AccessKey"]
        crash_point("aws-created")  # test hook: killed before the key carries its name
        self._call("tag_user", UserName=self.user, Tags=[{"Key": key["AccessKeyId"], "Value": name}])
        ini = f"[default]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
        return Minted(ref=key["AccessKeyId"], name=name, value=ini)

    def disable(self, ref: str) -> None:
        self._call("update_access_key", UserName=self.user, AccessKeyId=ref, Status="Inactive")

    def delete(self, ref: str) -> None:
        self._call("delete_access_key", UserName=self.user, AccessKeyId=ref)
        self._call("untag_user", UserName=self.user, TagKeys=[ref])


def _epoch(value: Any) -> float | None:
    try:
        return float(value.timestamp())
    except (AttributeError, TypeError, ValueError, OSError):
        return None
