"""Signed vote links (bot/web/tokens.py): a token says which profile, paper, vote and recipient
it was made for, until when; changing any of them, or signing with another key, is "forged";
past its day it is "expired"; anything else that is not a token is "malformed" — always a
BadToken, never another exception."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.errors import DigestbotError
from bot.web.tokens import MAX_TOKEN, BadToken, VoteIntent, seal, sign, verify, vote_link

SECRET = b"k3Jx9-vQ2pLmN8rT5wYz1aBcDeFgHiJk"
OTHER = b"Zq8Wm2Xr5Tn7Vb1Yc4Ud6Pe9Kf0Lg3Hj"
NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
INTENT = VoteIntent(
    profile_id="speculative",
    paper_id="2607.26654",
    vote=1,
    recipient="alice@lab.example",
    expires=date(2027, 2, 1),
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reason(token: str, secret: bytes = SECRET, now: datetime = NOW) -> str:
    with pytest.raises(BadToken) as info:
        verify(token, secret, now)
    assert type(info.value) is BadToken and isinstance(info.value, DigestbotError)
    return info.value.reason


@pytest.mark.parametrize(
    "intent",
    [
        INTENT,
        VoteIntent("spec", "2607.26654", -1, "alice@lab.example", date(2027, 2, 1)),
        VoteIntent("ml.theory", "hep-th/9901001", 1, "bob@lab.example", date(2026, 12, 3)),
        # a feed's id, a profile file named in Unicode, an internationalised address
        VoteIntent(
            "évaluation",
            "nature:https://www.nature.com/articles/s41586?x=1&y=2",
            -1,
            "zoë@laboratoire.example",
            date(2027, 1, 1),
        ),
        VoteIntent('we"ird|.pro', "feed:a.b|c", 1, '"odd person"@lab.example', date(2027, 1, 1)),
    ],
)
def test_round_trip(intent: VoteIntent) -> None:
    token = sign(intent, SECRET)
    assert verify(token, SECRET, NOW) == intent
    # URL-safe as it is: no padding, nothing a URL would escape
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) <= MAX_TOKEN


def test_the_same_intent_gives_the_same_token() -> None:
    assert sign(INTENT, SECRET) == sign(INTENT, SECRET)
    assert sign(INTENT, SECRET) != sign(INTENT, OTHER)


def test_vote_link() -> None:
    link = vote_link("https://papers.lab.example", INTENT, SECRET)
    assert link == f"https://papers.lab.example/v/{sign(INTENT, SECRET)}"
    token = link.removeprefix("https://papers.lab.example/v/")
    assert verify(token, SECRET, NOW) == INTENT
    with pytest.raises(ValueError, match="http"):
        vote_link("javascript:alert(1)//", INTENT, SECRET)


def test_valid_through_its_expiry_day_then_expired() -> None:
    token = sign(INTENT, SECRET)
    last = datetime(2027, 2, 1, 23, 59, 59, tzinfo=UTC)
    assert verify(token, SECRET, last) == INTENT
    # the day is a UTC day, whatever zone `now` is given in
    assert verify(token, SECRET, last.astimezone(timezone(timedelta(hours=5)))) == INTENT
    assert reason(token, now=last + timedelta(seconds=1)) == "expired"
    assert reason(token, now=datetime(2030, 1, 1, tzinfo=UTC)) == "expired"


def test_an_expired_forgery_is_forged() -> None:
    """The signature is checked first: an altered token says nothing about its expiry."""
    payload, mac = sign(INTENT, SECRET).split(".")
    fields = json.loads(unb64(payload))
    fields[4] = "2099-01-01"
    assert reason(b64(json.dumps(fields).encode()) + "." + mac) == "forged"


def test_wrong_secret_is_forged() -> None:
    assert reason(sign(INTENT, OTHER)) == "forged"


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "another-profile"),
        (1, "2607.26655"),
        (2, -1),
        (3, "mallory@lab.example"),
        (3, "Alice@lab.example"),
        (4, "2099-12-31"),
    ],
)
def test_each_field_tampered_is_forged(index: int, value: object) -> None:
    """The payload re-encoded with one field changed, the signature kept."""
    payload, mac = sign(INTENT, SECRET).split(".")
    fields = json.loads(unb64(payload))
    fields[index] = value
    tampered = b64(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode())
    assert tampered != payload
    assert reason(f"{tampered}.{mac}") == "forged"


def test_a_signature_moved_to_another_token_is_forged() -> None:
    other = VoteIntent("speculative", "2607.26655", 1, "alice@lab.example", date(2027, 2, 1))
    payload = sign(other, SECRET).split(".")[0]
    mac = sign(INTENT, SECRET).split(".")[1]
    assert reason(f"{payload}.{mac}") == "forged"


GOOD = sign(INTENT, SECRET)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_another_spelling_of_the_same_bytes_is_malformed() -> None:
    """The last character of a base64 text carries bits no byte uses: setting one gives another
    token that decodes to the same bytes. Only the one spelling `sign` writes is a token."""
    odd = INTENT
    while len(sign(odd, SECRET).split(".")[0]) % 4 == 0:  # a payload ending in a partial group
        odd = VoteIntent("p", "2607.26654", 1, "x" + odd.recipient, date(2027, 2, 1))
    payload, mac = sign(odd, SECRET).split(".")
    respelled_mac = mac[:-1] + B64URL[B64URL.index(mac[-1]) ^ 1]
    respelled_payload = payload[:-1] + B64URL[B64URL.index(payload[-1]) ^ 1]
    assert unb64(respelled_mac) == unb64(mac) and unb64(respelled_payload) == unb64(payload)
    assert reason(f"{payload}.{respelled_mac}") == "malformed"
    assert reason(f"{respelled_payload}.{mac}") == "malformed"


GARBAGE = [
    "",
    ".",
    "..",
    "abc",
    GOOD + ".",
    "." + GOOD,
    GOOD.replace(".", ".."),
    GOOD + "." + GOOD,
    GOOD.split(".")[0],
    GOOD.split(".")[0] + ".",
    "!!!!.@@@@",
    GOOD.replace("-", "+").replace("_", "/") + "+/==",
    GOOD + "=",
    GOOD.split(".")[0] + "=." + GOOD.split(".")[1],
    "A" * (MAX_TOKEN + 1),
    "A" * 10_000_000 + "." + GOOD.split(".")[1],
    "é" * 40 + "." + GOOD.split(".")[1],
    GOOD.split(".")[0] + ".\u0665" * 43,  # Arabic-Indic digits: str.isdigit, not base64
    GOOD + "\n",
    " " + GOOD,
    GOOD.replace(".", "\x00"),
    GOOD.split(".")[0] + "." + GOOD.split(".")[1][:-1],  # a signature one character short
    GOOD.split(".")[0] + "." + GOOD.split(".")[1] + "A",  # ... one too long
    "A.A",
    "AAAA.AAAA",
]


@pytest.mark.parametrize("token", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_a_bad_token(token: str) -> None:
    assert reason(token) in ("malformed", "forged")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"{}",
        b"null",
        b"[]",
        b'"speculative"',
        b'["speculative","2607.26654",1,"alice@lab.example"]',  # a field short
        b'["speculative","2607.26654",1,"alice@lab.example","2027-02-01","x"]',  # one too many
        b'["speculative","2607.26654",2,"alice@lab.example","2027-02-01"]',  # not +1 / -1
        b'["speculative","2607.26654",0,"alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654",true,"alice@lab.example","2027-02-01"]',  # a bool is no vote
        b'["speculative","2607.26654",1.0,"alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654","1","alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654",1,"alice@lab.example","2027-02-30"]',
        b'["speculative","2607.26654",1,"alice@lab.example","20270201"]',
        b'["speculative","2607.26654",1,"alice@lab.example",20270201]',
        b'["","2607.26654",1,"alice@lab.example","2027-02-01"]',
        b'["speculative","",1,"alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654",1,"","2027-02-01"]',
        b'[["speculative"],"2607.26654",1,"alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654",1e999,"alice@lab.example","2027-02-01"]',
        b'["speculative","2607.26654",' + b"9" * 5000 + b',"a@b.example","2027-02-01"]',
        b"[" * 1400 + b"]" * 1400,  # deeper than json.loads recurses
        b'["\\ud800","2607.26654",1,"alice@lab.example","2027-02-01"]',  # a lone surrogate
    ],
)
def test_a_signed_payload_that_is_not_an_intent_is_malformed(payload: bytes) -> None:
    """Signed with the right key (as only a bug could), yet not five well-typed fields."""
    assert reason(seal(payload, SECRET)) == "malformed"


def test_mutations_of_a_good_token_never_pass_and_never_crash() -> None:
    rng = random.Random(16)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é\x00%"
    seen = 0
    for _ in range(2000):
        chars = list(GOOD)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars))
            op = rng.randrange(3)
            if op == 0:
                chars[i] = rng.choice(alphabet)
            elif op == 1:
                del chars[i]
            else:
                chars.insert(i, rng.choice(alphabet))
        token = "".join(chars)
        if token == GOOD:
            continue
        seen += 1
        assert reason(token) in ("malformed", "forged"), token
    assert seen > 1900


def test_intent_refuses_what_is_not_a_vote() -> None:
    with pytest.raises(ValueError, match="vote"):
        VoteIntent("p", "2607.26654", 0, "a@b.example", date(2027, 1, 1))
    with pytest.raises(ValueError, match="names"):
        VoteIntent("", "2607.26654", 1, "a@b.example", date(2027, 1, 1))


def test_an_intent_too_long_for_a_link_is_refused_when_signing() -> None:
    long = VoteIntent("p", "feed:" + "x" * MAX_TOKEN, 1, "a@b.example", date(2027, 1, 1))
    with pytest.raises(ValueError, match="too long"):
        sign(long, SECRET)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        verify(GOOD, SECRET, datetime(2026, 12, 3, 14, 0))


def test_an_email_link_lives_60_days_from_sending() -> None:
    sent = datetime(2026, 12, 4, 1, 30, tzinfo=timezone(timedelta(hours=5)))  # Dec 3 in UTC
    intent = VoteIntent.for_email("speculative", "2607.26654", 1, "alice@lab.example", sent)
    assert intent == INTENT  # expires 2027-02-01 = 2026-12-03 + 60 days
    token = sign(intent, SECRET)
    assert verify(token, SECRET, sent + timedelta(days=60)) == intent
    assert reason(token, now=datetime(2027, 2, 2, tzinfo=UTC)) == "expired"
