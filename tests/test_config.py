"""bot.yaml and profile validation: the shipped files load; every broken input names file, line
and field; one broken profile doesn't hide the others."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.config import load_profile, load_profiles, load_settings
from bot.errors import ConfigError, ConfigErrors
from bot.http import PLACEHOLDER_CONTACT, HttpSettings
from tests.e2e import Bot

REPO = Path(__file__).resolve().parents[1]

GOOD_PROFILE = """\
name: Speculative decoding
description: Drafting tokens with a small model and verifying them with a large one.
keywords: [speculative decoding, draft model]
notify:
  slack: "#papers-spec"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_config_and_profile_load() -> None:
    settings = load_settings(REPO / "config" / "bot.yaml")
    assert settings.timezone == "UTC"
    assert settings.state_path == (REPO / "data" / "digestbot.sqlite3").resolve()
    assert settings.profiles_dir == (REPO / "config" / "profiles").resolve()
    assert [(s.kind, s.schedule) for s in settings.sources] == [("hf_daily", "0 9 * * mon-fri")]
    assert set(settings.notifiers) == {"slack"}
    # The shipped `http:` is the defaults plus the contact placeholder (which is never sent).
    assert settings.http == HttpSettings(contact=PLACEHOLDER_CONTACT)
    profiles, errors = load_profiles(settings.profiles_dir)
    assert errors == []
    [profile] = profiles
    assert profile.id == "normalization"
    assert profile.name == "Normalization in transformers"
    assert profile.keywords == ("layer normalization", "RMSNorm", "pre-LN", "training stability")
    assert profile.exclude == ("medical imaging",)
    assert (profile.min_score, profile.max_per_digest) == (0.98, 10)
    assert profile.destinations == ("slack:#papers-norm",)


# (profile text, line, field, words in the message, words in the hint)
BROKEN_PROFILES = [
    pytest.param(
        "name: X\ndescription: [unclosed\nkeywords: [a]\n",
        3,
        None,
        "invalid YAML",
        "indentation",
        id="bad-yaml",
    ),
    pytest.param(
        "name: X\ndescription: d\nkeyword: [a]\n",
        3,
        "keyword",
        "unknown key",
        "spelling",
        id="unknown-key",
    ),
    pytest.param(
        "name: X\ndescription: d\nmin_score: high\n",
        3,
        "min_score",
        "valid number",
        None,
        id="wrong-type",
    ),
    pytest.param(
        "name: X\ndescription: d\nmax_per_digest: 20:00\n",
        3,
        "max_per_digest",
        "unquoted 20:00",
        "'20:00'",
        id="unquoted-20:00",
    ),
    pytest.param(
        "name: 20:00\ndescription: d\n",
        1,
        "name",
        "unquoted 20:00",
        "'20:00'",
        id="unquoted-20:00-name",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  slack: #papers\n",
        4,
        "notify.slack",
        "empty",
        "quote it",
        id="unquoted-channel-is-comment",
    ),
    pytest.param(
        "name: X\ndescription: d\nkeywords:\n  - GPT\n  - 2024\n",
        5,
        "keywords[1]",
        "valid string",
        'quote it to make it text: "2024"',
        id="number-keyword",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  pager: me\n",
        4,
        "notify.pager",
        "unknown key",
        None,
        id="unknown-notifier",
    ),
    pytest.param(
        "description: d\n",
        1,
        "name",
        "required key is missing",
        None,
        id="missing-name",
    ),
    pytest.param(
        "name: X\ndescription: d\nmin_score: 3\n",
        3,
        "min_score",
        "less than or equal to 1",
        None,
        id="out-of-range",
    ),
    pytest.param(
        'name: "Decoding\\nweekly"\ndescription: d\n',
        1,
        "name",
        "contains a line break",
        None,
        id="name-with-line-break",
    ),
    pytest.param(
        'description: d\nname: "Decoding\\aweekly"\n',
        2,
        "name",
        "contains the control character U+0007",
        None,
        id="name-with-control-character",
    ),
    pytest.param(
        'name: X\ndescription: d\nnotify:\n  email: "alice\\0@example.org"\n',
        4,
        "notify.email",
        "is not an email address",
        None,
        id="address-with-nul",
    ),
    pytest.param(
        'name: X\ndescription: d\nnotify:\n  slack:\n    - "#papers"\n    - "@"\n',
        6,
        "notify.slack[1]",
        "'@' alone names nothing",
        None,
        id="slack-at-alone",
    ),
    pytest.param(
        'name: X\ndescription: d\nnotify:\n  slack: ["#papers", " "]\n',
        4,
        "notify.slack[1]",
        "an empty entry: name a channel",
        None,
        id="slack-blank-entry",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  slack: D0123ABCD\n",
        4,
        "notify.slack",
        "D0123ABCD is the ID of a direct-message conversation: name the person instead",
        None,
        id="slack-dm-id",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  slack: bob@lab\n",
        4,
        "notify.slack",
        "'bob@lab' is neither a channel nor an email address",
        None,
        id="slack-not-an-address",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  slack: 12345\n",
        4,
        "notify.slack",
        "or a list of them; got 12345",
        None,
        id="slack-number",
    ),
    pytest.param(
        "name: X\ndescription: d\nnotify:\n  slack: @bob\n",
        4,
        None,
        "found character '@' that cannot start any token",
        "starting with #, @ or *",
        id="unquoted-handle",
    ),
    pytest.param(
        "- just\n- a list\n",
        1,
        None,
        "expected a mapping",
        None,
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message", "hint"), BROKEN_PROFILES)
def test_broken_profile_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, message: str, hint: str | None
) -> None:
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises((ConfigError, ConfigErrors)) as caught:
        load_profile(path)
    exc = caught.value
    err = exc.errors[0] if isinstance(exc, ConfigErrors) else exc
    assert (err.file, err.line, err.field) == (str(path), line, field)
    where = f"{path}:{line}: {field}: " if field else f"{path}:{line}: "
    assert str(err).startswith(where), str(err)
    assert message in str(err)
    if hint is not None:
        assert err.hint is not None and hint in err.hint
    else:
        assert hint is None


def test_every_error_of_a_file_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "name: X\ndescription: d\nmin_score: high\nextra: 1\n")
    with pytest.raises(ConfigErrors) as caught:
        load_profile(path)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "min_score"), (4, "extra")]


def test_broken_profile_does_not_hide_the_others(tmp_path: Path) -> None:
    write(tmp_path, "a_good.yaml", GOOD_PROFILE)
    write(tmp_path, "b_broken.yaml", "name: X\ndescription: d\nthreshold: 0.2\n")
    write(tmp_path, "c_good.yml", GOOD_PROFILE.replace("Speculative", "Other"))
    (tmp_path / "notes.txt").write_text("not a profile")
    profiles, errors = load_profiles(tmp_path)
    assert [p.id for p in profiles] == ["a_good", "c_good"]
    assert [(Path(e.file).name, e.line, e.field) for e in errors] == [
        ("b_broken.yaml", 3, "threshold")
    ]


def test_profile_needs_something_to_score_against(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "name: Nothing\n")
    needs = "a profile needs a description, keywords, example papers or authors"
    with pytest.raises(ConfigErrors, match=needs):
        load_profile(path)


BOT_YAML = """\
timezone: UTC
state: state.sqlite3
profiles: profiles/
sources:
  - kind: hf_daily
    schedule: "0 9 * * mon-fri"
"""

BROKEN_SETTINGS = [
    pytest.param(
        BOT_YAML.replace("UTC", "Mars/Olympus"), 1, "timezone", "unknown time zone", id="timezone"
    ),
    pytest.param(
        BOT_YAML.replace("hf_daily", "nope"),
        5,
        "sources[0].kind",
        "unknown source kind 'nope'",
        id="kind",
    ),
    pytest.param(
        BOT_YAML.replace("mon-fri", "1-5"),
        6,
        "sources[0].schedule",
        "use day names",
        id="numeric-weekday",
    ),
    pytest.param(
        BOT_YAML.replace("0 9 * * mon-fri", "61 9 * * *"),
        6,
        "sources[0].schedule",
        "invalid cron",
        id="bad-cron",
    ),
    pytest.param(
        BOT_YAML.replace("mon-fri", "sun-thu"),
        6,
        "sources[0].schedule",
        "write it as 'sun,mon-thu'",
        id="sunday-range",
    ),
    pytest.param(
        BOT_YAML.replace('"0 9 * * mon-fri"', '"0 9 * *"'),
        6,
        "sources[0].schedule",
        "expected 5 cron fields",
        id="four-fields",
    ),
    pytest.param(
        BOT_YAML + "slack:\n  token: xoxb-secret\n",
        8,
        "slack.token",
        "unknown key",
        id="token-in-file",
    ),
    pytest.param(BOT_YAML + "colour: blue\n", 7, "colour", "unknown key", id="unknown-top"),
    pytest.param(
        BOT_YAML + "operator:\n  pager: me\n", 8, "operator.pager", "unknown key", id="operator"
    ),
    pytest.param(
        BOT_YAML + "    base_url: ftp://x\n", 7, "sources[0].base_url", "http", id="bad-base-url"
    ),
    pytest.param(
        BOT_YAML + "arxiv_api:\n  base_url: file:///etc\n",
        8,
        "arxiv_api.base_url",
        "expected an http(s) URL",
        id="bad-arxiv-api-url",
    ),
    pytest.param(
        BOT_YAML
        + "email:\n  host: mail.example.org\n  security: none\n  username: bot\n"
        + "  password_env: SMTP_PASSWORD\n  from: bot@example.org\n",
        10,
        "email.username",
        "allow_plaintext_auth: true",
        id="login-in-clear",
    ),
    pytest.param(
        BOT_YAML
        + 'email:\n  host: h.example.org\n  username: "b\\u00f6t"\n  from: b@example.org\n',
        9,
        "email.username",
        "printable ASCII",
        id="username-not-ascii",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), BROKEN_SETTINGS)
def test_broken_bot_yaml(tmp_path: Path, text: str, line: int, field: str, message: str) -> None:
    path = write(tmp_path, "bot.yaml", text)
    with pytest.raises(ConfigErrors) as caught:
        load_settings(path)
    [err] = caught.value.errors
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert message in str(err)


def test_operator_destinations(tmp_path: Path) -> None:
    path = write(tmp_path, "bot.yaml", BOT_YAML + 'operator:\n  slack: "#ops"\n')
    assert load_settings(path).operator == ("slack:#ops",)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("categories: [cs.LG, Computer Vision]\n", 3, "categories", "not an arXiv category"),
        ("category_boost: {cs.LG: 2}\n", 3, "category_boost", "between -1 and 1"),
    ],
)
def test_profile_categories(tmp_path: Path, text: str, line: int, field: str, message: str) -> None:
    good = write(
        tmp_path,
        "ok.yaml",
        "name: X\ndescription: d\ncategories: [cs.LG, hep-th]\ncategory_boost: {cs.CL: 0.1}\n",
    )
    profile = load_profile(good)
    assert profile.categories == ("cs.LG", "hep-th")
    assert profile.category_boost == {"cs.CL": 0.1}
    path = write(tmp_path, "bad.yaml", "name: X\ndescription: d\n" + text)
    with pytest.raises(ConfigErrors) as caught:
        load_profile(path)
    [err] = caught.value.errors
    assert (err.line, err.field) == (line, field)
    assert message in str(err)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml")


def test_yaml_tags_do_not_build_objects(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises((ConfigError, ConfigErrors)):
        load_profile(path)


def test_login_in_clear_is_allowed_only_when_asked_for(tmp_path: Path) -> None:
    email = (
        "email:\n  host: 127.0.0.1\n  security: none\n  username: bot\n"
        "  password_env: SMTP_PASSWORD\n  from: bot@example.org\n  allow_plaintext_auth: true\n"
    )
    settings = load_settings(write(tmp_path, "bot.yaml", BOT_YAML + email))
    assert settings.notifiers["email"].model_dump()["allow_plaintext_auth"] is True
    # Without a login there is no password to send: `security: none` alone is fine.
    relay = "email:\n  host: 127.0.0.1\n  security: none\n  from: bot@example.org\n"
    assert "email" in load_settings(write(tmp_path, "relay.yaml", BOT_YAML + relay)).notifiers


# --------------------------------------------------------------------------- arXiv ids as typed


def test_unquoted_arxiv_ids_pass_check_as_typed(bot: Bot) -> None:
    """YAML reads an unquoted 2002.04745 as a float; the round-trip loader keeps how it was
    written, so an id typed whole (trailing zeros, a leading zero of 2007's ids) is accepted."""
    path = bot.profile(
        "ids.yaml",
        "name: Ids\ndescription: d\npapers: [2002.04745, 0704.0001, 2401.10000]\n"
        "not_like:\n  - 2310.00010\n",
    )
    checked = bot.run("check")

    assert checked.returncode == 0, checked.stderr
    assert "profile ids: ok ('Ids' -> console)" in checked.stdout
    profile = load_profile(path)
    assert profile.examples == ("2002.04745", "0704.0001", "2401.10000")
    assert profile.not_like == ("2310.00010",)


def test_an_unquoted_id_that_lost_digits_is_an_error_saying_why(bot: Bot) -> None:
    path = bot.profile(
        "ids.yaml", "name: Ids\ndescription: d\npapers:\n  - 2002.04745\n  - 2401.1\n  - 1e3\n"
    )
    checked = bot.run("check")

    assert checked.returncode == 2
    assert checked.stderr.splitlines()[:4] == [
        f"error: {path}:5: papers[1]: YAML reads the unquoted 2401.1 as a number, and as "
        "written it is not an arXiv id (4 digits, a dot, 4 or 5 digits; a number loses its "
        "trailing zeros, so 2401.10000 may have become 2401.1 on its way here)",
        '  hint: quote arXiv ids: "2401.01234"',
        f"error: {path}:6: papers[2]: YAML reads this unquoted value as the number 1000.0, and "
        "as written it is not an arXiv id (4 digits, a dot, 4 or 5 digits; a number loses its "
        "trailing zeros, so 2401.10000 may have become 2401.1 on its way here)",
        '  hint: quote arXiv ids: "2401.01234"',
    ]


def test_notify_slack_takes_a_list_of_channels_and_people(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        'name: X\ndescription: d\nnotify:\n  slack:\n    - "#papers"\n    - C0123ABCD\n'
        '    - U0ALICE\n    - "@bob"\n    - "@Bob Stone"\n    - alice@lab.example\n',
    )
    assert load_profile(path).destinations == (
        "slack:#papers",
        "slack:C0123ABCD",
        "slack:U0ALICE",
        "slack:@bob",
        "slack:@Bob Stone",
        "slack:alice@lab.example",
    )
    operator = write(tmp_path, "bot.yaml", BOT_YAML + 'operator:\n  slack: ["#ops", U0ALICE]\n')
    assert load_settings(operator).operator == ("slack:#ops", "slack:U0ALICE")
