"""Ed25519 signing with a keyring-held key, offline verification, and small
secrets (including allauth's MFA secrets through the MFA adapter)."""

from __future__ import annotations

import base64

import pytest
from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator

from safeward.crypto.errors import IntegrityError
from safeward.crypto.models import DataKey
from safeward.crypto.secrets import decrypt_secret, encrypt_secret, is_secret_token
from safeward.crypto.signing import (
    KeyCache,
    SignatureError,
    export_public_key,
    public_keys,
    sign,
    verify,
    verify_offline,
)

pytestmark = pytest.mark.django_db


class TestSigning:
    def test_sign_verify_and_offline_export(self):
        key_id, signature = sign(b"audit checkpoint 17: 3f2a...")
        assert key_id.startswith("sw-ed25519-")
        assert len(signature) == 64
        verify(b"audit checkpoint 17: 3f2a...", signature, key_id=key_id)
        pem = export_public_key()
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")
        assert public_keys() == {key_id: pem}
        verify_offline(pem, b"audit checkpoint 17: 3f2a...", signature)
        with pytest.raises(SignatureError):
            verify_offline(pem, b"audit checkpoint 18", signature)

    def test_bad_signatures_and_key_ids(self):
        key_id, signature = sign(b"data")
        with pytest.raises(SignatureError, match="does not verify"):
            verify(b"data", bytes(64), key_id=key_id)
        with pytest.raises(SignatureError, match="not a SafeWard signing key id"):
            verify(b"data", signature, key_id="rsa-1")
        with pytest.raises(SignatureError, match="unknown signing key"):
            verify(b"data", signature, key_id="sw-ed25519-00000000")
        with pytest.raises(TypeError):
            sign("text")

    def test_key_cache_reads_a_key_once_and_still_refuses_bad_signatures(self, django_assert_num_queries):
        key_id, signature = sign(b"seal 1")
        _, other = sign(b"seal 2")
        cache = KeyCache()
        with django_assert_num_queries(1):
            cache.verify(b"seal 1", signature, key_id=key_id)
            cache.verify(b"seal 2", other, key_id=key_id)
            with pytest.raises(SignatureError, match="does not verify"):
                cache.verify(b"seal 2", signature, key_id=key_id)
        # Unknown keys are not remembered as unknown: each look asks again.
        with django_assert_num_queries(2):
            for _ in range(2):
                with pytest.raises(SignatureError, match="unknown signing key"):
                    cache.verify(b"seal 1", signature, key_id="sw-ed25519-00000000")

    def test_private_key_is_stored_wrapped(self):
        row = DataKey.objects.get(purpose="signing", state="primary")
        assert len(bytes(row.public_key)) == 32
        assert bytes(row.public_key) not in bytes(row.wrapped_key)


class TestSecrets:
    def test_round_trip_and_purpose_binding(self):
        token = encrypt_secret("JBSWY3DPEHPK3PXP", purpose="webhook")
        assert is_secret_token(token)
        assert "JBSWY3DPEHPK3PXP" not in token
        assert decrypt_secret(token, purpose="webhook") == "JBSWY3DPEHPK3PXP"
        with pytest.raises(IntegrityError):
            decrypt_secret(token, purpose="mfa")

    def test_damage_is_an_error(self):
        token = encrypt_secret("s3cret-value", purpose="webhook")
        blob = bytearray(base64.urlsafe_b64decode(token.removeprefix("sws1.")))
        blob[-20] ^= 0x01
        flipped = "sws1." + base64.urlsafe_b64encode(bytes(blob)).decode()
        for bad in (flipped, token[:-8], "plain-secret", "sws1.%%%"):
            with pytest.raises(IntegrityError):
                decrypt_secret(bad, purpose="webhook")

    def test_bad_input(self):
        with pytest.raises(TypeError):
            encrypt_secret(b"bytes", purpose="webhook")
        with pytest.raises(ValueError, match="4096"):
            encrypt_secret("x" * 5000, purpose="webhook")
        with pytest.raises(ValueError, match="Unicode"):
            encrypt_secret("\udc80", purpose="webhook")
        with pytest.raises(ValueError, match="purpose"):
            encrypt_secret("x", purpose="Bad Purpose!")

    def test_mfa_secrets_are_stored_sealed(self, make_user):
        user = make_user("nurse")
        totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        stored = totp.data["secret"]
        assert is_secret_token(stored)
        assert user.test_totp_secret not in stored
        assert get_adapter().decrypt(stored) == user.test_totp_secret
        with pytest.raises(IntegrityError):
            get_adapter().decrypt(user.test_totp_secret)  # a plaintext secret is refused, not used

    def test_recovery_code_seed_is_sealed(self, make_user):
        from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

        user = make_user("nurse")
        codes = RecoveryCodes.activate(user)
        seed = codes.instance.data["seed"]
        assert is_secret_token(seed)
        assert len(codes.generate_codes()) >= 1
