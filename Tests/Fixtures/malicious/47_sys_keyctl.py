# expect: ok
# Uses the kernel keyring syscalls (add_key, keyctl, request_key), a subsystem with a record of exploitable bugs.
# require: BLOCKED: add_key
# require: BLOCKED: keyctl(KEYCTL_GET_KEYRING_ID)
import ctypes
import errno
import os

from attempt import attempt, libc


KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -2, -3, -4
payload = b"not-a-secret"
attempt("add_key", 248, b"user", b"pysandbox-test", payload, len(payload), KEY_SPEC_PROCESS_KEYRING)
attempt("keyctl(KEYCTL_GET_KEYRING_ID)", 250, 0, KEY_SPEC_SESSION_KEYRING, 0)
attempt("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", 250, 1, None)
attempt("keyctl(KEYCTL_DESCRIBE, user keyring)", 250, 6, KEY_SPEC_USER_KEYRING, ctypes.create_string_buffer(256), 256)
attempt("request_key", 249, b"user", b"pysandbox-test", None, 0)
