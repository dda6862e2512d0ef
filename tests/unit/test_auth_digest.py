"""DigestAuth: RFC 7616 vectors, challenge parsing, the 401/407 flow; no sockets."""

from __future__ import annotations

import hashlib
import pickle
import random
import re

import pytest
import requests
import responses

from httpkit import AuthError
from httpkit._http import parse_challenges
from httpkit.auth import DigestAuth
from httpkit.auth._digest import select_challenge

URL = "https://api.example.test/dir/index.html"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def _params(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    return dict(
        (m.group(1), m.group(2).strip('"'))
        for m in re.finditer(r'([a-z*]+)=("[^"]*"|[^,]+)', header)
    )


def _auth(
    user: str = "Mufasa", password: str = "Circle of Life", cnonce: str = RFC_CNONCE
) -> DigestAuth:
    auth = DigestAuth(user, password)
    auth._cnonce_factory = lambda: cnonce
    return auth


# -- RFC 7616 section 3.9 worked examples ----------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1(algorithm: str, expected: str) -> None:
    challenge = select_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    )
    assert challenge is not None
    header = _auth().build_header(challenge, "GET", "/dir/index.html", None, 1)
    assert header == (
        f'Digest username="Mufasa", realm="http-auth@example.org", nonce="{RFC_NONCE}", '
        f'uri="/dir/index.html", algorithm={algorithm}, response="{expected}", '
        f'opaque="{RFC_OPAQUE}", qop=auth, nc=00000001, cnonce="{RFC_CNONCE}"'
    )


def test_rfc7616_section_3_9_2_userhash_sha512_256() -> None:
    """The RFC prints username 488869...ec and response ae66e6...dd; both are wrong.

    RFC 7616 errata ID 4897 reports it: hashing "Jäsøn Doe:api@example.org" as UTF-8 with
    SHA-512/256 gives 793263...9b0b, and the response follows from it.
    """
    challenge = select_challenge(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )
    assert challenge is not None
    auth = _auth("Jäsøn Doe", "Secret, or not?", "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
    params = _params(auth.build_header(challenge, "GET", "/doe.json", None, 1))
    assert params["username"] == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert params["response"] == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    assert params["userhash"] == "true"
    assert params["algorithm"] == "SHA-512-256"


# -- parsing ------------------------------------------------------------------------------------


def test_parser_splits_folded_challenges_and_keeps_quoted_commas() -> None:
    parsed = parse_challenges(
        'Negotiate, Basic realm="a, b", Digest realm="r\\"q", nonce=abc, qop="auth, auth-int", '
        "Bearer abc123=="
    )
    assert [c.scheme for c in parsed] == ["negotiate", "basic", "digest", "bearer"]
    assert parsed[1].params == {"realm": "a, b"}
    assert parsed[2].params == {"realm": 'r"q', "nonce": "abc", "qop": "auth, auth-int"}
    assert parsed[3].token68 == "abc123=="


def test_strongest_algorithm_wins_regardless_of_order() -> None:
    header = ", ".join(
        f'Digest realm="r", nonce="n{a}", algorithm={a}'
        for a in ("MD5", "SHA-512-256", "SHA-256", "UNKNOWN-ALGO")
    )
    challenge = select_challenge(header)
    assert challenge is not None
    assert (challenge.algorithm, challenge.nonce) == ("SHA-512-256", "nSHA-512-256")


def test_non_digest_challenges_are_not_ours() -> None:
    assert select_challenge('Basic realm="x", Bearer realm="y"') is None


# Challenges of other schemes that do not follow the RFC 9110 grammar: not ours to judge.
OTHER_SCHEMES = [
    'Basic realm="x"',
    "Bearer",
    'Basic realm="x" charset="UTF-8"',
    "Basic realm=Restricted Area",
    'Bearer scope="a", scope="b"',
    'Bearer realm="api" error="invalid_token"',
    "Negotiate abc:def",
    'Basic realm="never closed',
    'realm="x", nonce="n"',
    'Bearer realm="' + "x" * 20000 + '"',
]


@pytest.mark.parametrize("header", OTHER_SCHEMES, ids=lambda h: h[:30])
def test_challenges_of_other_schemes_are_ignored_even_when_malformed(header: str) -> None:
    assert select_challenge(header) is None


@pytest.mark.parametrize(
    "other", ["Basic realm=Restricted Area", 'Bearer realm="api" error="invalid_token"']
)
def test_malformed_challenge_of_another_scheme_next_to_digest(other: str) -> None:
    challenge = select_challenge(f'{other}, Digest realm="r", nonce="n", qop="auth"')
    assert challenge is not None
    assert (challenge.realm, challenge.nonce, challenge.qop) == ("r", "n", ("auth",))


def test_unquoted_token_and_token68_values() -> None:
    challenge = select_challenge(
        "Digest realm=r, nonce=dGVzdA==, algorithm=SHA-256, qop=auth, opaque=b3/B+YQ, stale=TRUE"
    )
    assert challenge is not None
    assert (challenge.realm, challenge.nonce, challenge.opaque) == ("r", "dGVzdA==", "b3/B+YQ")
    assert (challenge.algorithm, challenge.qop, challenge.stale) == ("SHA-256", ("auth",), True)


def test_rfc7616_example_with_unquoted_nonce_and_opaque() -> None:
    challenge = select_challenge(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
        f"nonce={RFC_NONCE}, opaque={RFC_OPAQUE}"
    )
    assert challenge is not None
    params = _params(_auth().build_header(challenge, "GET", "/dir/index.html", None, 1))
    assert (params["nonce"], params["opaque"]) == (RFC_NONCE, RFC_OPAQUE)
    assert params["response"] == "8ca523f5e9506fed4657c9700eebdbec"


def test_empty_qop_is_answered_the_rfc2069_way() -> None:
    challenge = select_challenge('Digest realm="r", nonce="n", qop=""')
    assert challenge is not None
    assert challenge.qop == ()
    params = _params(_auth("u", "p").build_header(challenge, "GET", "/x", None, 1))
    assert set(params) == {"username", "realm", "nonce", "uri", "response"}

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    assert params["response"] == md5(f"{md5('u:r:p')}:n:{md5('GET:/x')}")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('Digest realm="r"', "has no nonce"),
        ('Digest nonce="n"', "has no realm"),
        ('Digest realm="r", nonce="n", algorithm=ROT13', "unsupported algorithm 'ROT13'"),
        ('Digest realm="r", nonce="n", qop="auth-conf"', "no supported qop"),
        ('Digest realm="r, nonce="n"', "unterminated quoted-string"),
        ('Digest realm="r", nonce="n\\', "unterminated quoted-string"),
        ('Digest realm="r", realm="s", nonce="n"', "repeats the parameter 'realm'"),
        ('realm="r", Digest nonce="n"', "starts with a parameter"),
        ('Digest realm="r", nonce="n", charset=latin1', "charset 'latin1'"),
        ("Digest realm=r nonce=n", "cannot parse"),
        ('Digest realm="r", nonce="' + "n" * 65536 + '"', "refuses challenges over"),
        ('Digest realm="r", nonce=a=b', "cannot parse the challenge near 'nonce=a=b'"),
        ('Digest realm="r", nonce=n x', "cannot parse the challenge near 'nonce=n x'"),
        ('Digest realm="r", nonce = "n', "unterminated quoted-string"),
        ('Digest realm="r", nonce="n", qop=auth-conf', "no supported qop"),
        ('Basic realm="x", Digest realm="r"', "has no nonce"),
        ('Bearer realm="' + "x" * 20000 + '", Digest realm="r", nonce="n"', "refuses"),
        ('Digest realm="r", nonce="n\udcff"', "nonce is not valid text"),
    ],
)
def test_malformed_challenges_raise_auth_error(header: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        select_challenge(header)


def test_random_challenges_raise_nothing_but_auth_error() -> None:
    rng = random.Random(7616)
    pieces = ["Digest", "Basic", " ", ",", "=", "==", '"', "\\", "realm", "nonce", "qop", "a"]
    pieces += ["algorithm", "MD5", "SHA-256-sess", "auth", "auth-int", "opaque", "userhash"]
    pieces += ["true", "stale", "charset", "UTF-8", "\x00", "\r\n", "é", "\udcff", "/", "*"]
    names = ["realm", "nonce", "qop", "algorithm", "opaque", "userhash", "charset", "stale"]
    values = ['""', '"a"', "a", "bg==", '"auth, auth-int"', "MD5-sess", "SHA-512-256", "true"]
    values += ['"\\"', '"\x00"', '"é"', '"\udcff"', "=", '"Ĳ"', '"a, b"', "UTF-8", "a b"]
    for _ in range(3000):
        header = "Digest " + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        if rng.random() < 0.5:
            chosen = rng.sample(names, rng.randint(1, len(names)))
            header = "Digest " + ", ".join(f"{n}={rng.choice(values)}" for n in chosen)
        try:
            challenge = select_challenge(header)
            if challenge is not None:
                _auth().build_header(challenge, "POST", "/", b"body", 1)
        except AuthError:
            pass


# -- the flow through a session (responses) ------------------------------------------------------


@pytest.fixture
def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def _challenge(**extra: str) -> dict[str, str]:
    params = {"realm": '"r"', "nonce": '"n1"', "qop": '"auth"', "opaque": '"op"'}
    params |= {"algorithm": "SHA-256", **extra}
    parts = [f"{k}={v}" for k, v in params.items()]
    return {"WWW-Authenticate": "Digest " + ", ".join(parts)}


@responses.activate
def test_401_is_answered_with_cookies_and_opaque(session: requests.Session) -> None:
    responses.get(URL, status=401, headers={**_challenge(), "Set-Cookie": "sid=1; Path=/"})
    responses.get(URL, status=200)
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    sent = responses.calls[1].request
    assert sent.headers["Cookie"] == "sid=1"
    params = _params(sent.headers["Authorization"])
    assert (params["opaque"], params["nonce"], params["nc"], params["qop"]) == (
        "op",
        "n1",
        "00000001",
        "auth",
    )
    assert params["uri"] == "/dir/index.html"


@responses.activate
def test_nonce_is_reused_with_increasing_count(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge())
    responses.get(URL, status=200)
    auth = DigestAuth("u", "p")
    session.get(URL, auth=auth)
    session.get(URL, auth=auth)
    assert len(responses.calls) == 3  # the second request needed no challenge
    assert _params(responses.calls[2].request.headers["Authorization"])["nc"] == "00000002"


@responses.activate
def test_wrong_credentials_do_not_loop(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge())
    r = session.get(URL, auth=DigestAuth("u", "wrong"))
    assert r.status_code == 401
    assert len(responses.calls) == 2


@responses.activate
def test_second_stale_challenge_is_returned(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge())
    responses.get(URL, status=401, headers=_challenge(nonce='"n2"', stale="true"))
    responses.get(URL, status=401, headers=_challenge(nonce='"n3"', stale="true"))
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 401
    assert [h.status_code for h in r.history] == [401, 401]
    assert len(responses.calls) == 3  # the fresh and one stale challenge were answered
    assert _params(responses.calls[2].request.headers["Authorization"])["nonce"] == "n2"


@responses.activate
def test_endless_stale_challenges_get_one_answer(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge(stale="true"))
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 401
    assert len(responses.calls) == 2


@responses.activate
def test_stale_reused_nonce_is_answered_once(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge())
    responses.get(URL, status=200)
    responses.get(URL, status=401, headers=_challenge(nonce='"n2"', stale="true"))
    responses.get(URL, status=401, headers=_challenge(nonce='"n3"', stale="true"))
    auth = DigestAuth("u", "p")
    assert session.get(URL, auth=auth).status_code == 200
    r = session.get(URL, auth=auth)
    assert r.status_code == 401
    assert len(responses.calls) == 4  # the reused nonce, then one answer to the stale 401
    assert _params(responses.calls[3].request.headers["Authorization"])["nonce"] == "n2"
    assert session.get(URL, auth=auth).status_code == 401
    assert "Authorization" not in responses.calls[4].request.headers  # n3 was not kept


@responses.activate
def test_proxy_and_origin_may_each_be_stale_once(session: requests.Session) -> None:
    proxy_challenge = {"Proxy-Authenticate": _challenge()["WWW-Authenticate"]}
    stale = _challenge(nonce='"n2"', stale="true")["WWW-Authenticate"]
    responses.get(URL, status=407, headers=proxy_challenge)
    responses.get(URL, status=401, headers=_challenge())
    responses.get(URL, status=200)
    responses.get(URL, status=407, headers={"Proxy-Authenticate": stale})
    responses.get(URL, status=401, headers={"WWW-Authenticate": stale})
    responses.get(URL, status=200)
    auth = DigestAuth("u", "p")
    assert session.get(URL, auth=auth).status_code == 200
    r = session.get(URL, auth=auth)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [407, 401]


@responses.activate
def test_auth_int_hashes_the_body(session: requests.Session) -> None:
    responses.post(URL, status=401, headers=_challenge(qop='"auth-int"'))
    responses.post(URL, status=200)
    r = session.post(URL, data=b"body", auth=DigestAuth("u", "p"))
    assert r.status_code == 200
    assert _params(responses.calls[1].request.headers["Authorization"])["qop"] == "auth-int"


@responses.activate
def test_generator_body_is_not_resent(session: requests.Session) -> None:
    responses.post(URL, status=401, headers=_challenge())
    with pytest.raises(AuthError, match="stream or generator") as caught:
        session.post(URL, data=(c for c in [b"a"]), auth=DigestAuth("u", "p"))
    assert caught.value.response is not None
    assert len(responses.calls) == 1


@pytest.mark.parametrize("header", OTHER_SCHEMES, ids=lambda h: h[:30])
@responses.activate
def test_401_with_only_other_schemes_is_returned_as_is(
    session: requests.Session, header: str
) -> None:
    responses.get(URL, status=401, headers={"WWW-Authenticate": header})
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == header
    assert len(responses.calls) == 1


@responses.activate
def test_unquoted_base64_nonce_is_answered(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge(nonce="dGVzdA==", opaque="b3/B+YQ"))
    responses.get(URL, status=200)
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 200
    params = _params(responses.calls[1].request.headers["Authorization"])
    assert (params["nonce"], params["opaque"]) == ("dGVzdA==", "b3/B+YQ")


@responses.activate
def test_empty_qop_gets_an_rfc2069_answer(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge(qop='""'))
    responses.get(URL, status=200)
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 200
    params = _params(responses.calls[1].request.headers["Authorization"])
    assert not {"qop", "nc", "cnonce"} & set(params)


@responses.activate
def test_malformed_challenge_names_the_problem_and_origin(session: requests.Session) -> None:
    responses.get(URL, status=401, headers={"WWW-Authenticate": 'Digest realm="r"'})
    with pytest.raises(AuthError, match=r"no nonce .*https://api\.example\.test") as caught:
        session.get(URL, auth=DigestAuth("u", "p"))
    assert caught.value.response is not None
    assert len(responses.calls) == 1  # never re-sent without credentials


@responses.activate
def test_407_is_answered_with_proxy_authorization(session: requests.Session) -> None:
    responses.get(URL, status=407, headers={"Proxy-Authenticate": _challenge()["WWW-Authenticate"]})
    responses.get(URL, status=200)
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 200
    assert "Proxy-Authorization" in responses.calls[1].request.headers
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_nextnonce_replaces_the_nonce(session: requests.Session) -> None:
    responses.get(URL, status=401, headers=_challenge())
    responses.get(URL, status=200, headers={"Authentication-Info": 'nextnonce="n2", qop=auth'})
    auth = DigestAuth("u", "p")
    session.get(URL, auth=auth)
    session.get(URL, auth=auth)
    params = _params(responses.calls[2].request.headers["Authorization"])
    assert (params["nonce"], params["nc"]) == ("n2", "00000001")


@responses.activate
def test_challenge_after_cross_origin_redirect_is_not_answered(session: requests.Session) -> None:
    responses.get(URL, status=302, headers={"Location": "https://evil.test/"})
    responses.get("https://evil.test/", status=401, headers=_challenge())
    r = session.get(URL, auth=DigestAuth("u", "p"))
    assert r.status_code == 401
    assert len(responses.calls) == 2
    assert "Authorization" not in responses.calls[1].request.headers


def test_user_name_with_control_character_uses_username_star() -> None:
    challenge = select_challenge('Digest realm="r", nonce="n", qop="auth"')
    assert challenge is not None
    header = _auth("tab\there\x01", "p").build_header(challenge, "GET", "/", None, 1)
    assert "username*=UTF-8''tab%09here%01" in header
    assert 'username="' not in header


def test_non_ascii_user_is_sent_as_utf8_octets_in_a_quoted_string() -> None:
    challenge = select_challenge('Digest realm="r", nonce="n", qop="auth", charset=UTF-8')
    assert challenge is not None
    header = _auth("Jäsøn Doe", "p").build_header(challenge, "GET", "/", None, 1)
    # header strings travel as ISO-8859-1, so these characters are the UTF-8 octets
    assert header.encode("latin-1").startswith('Digest username="Jäsøn Doe"'.encode())


def test_repr_pickle_and_equality() -> None:
    auth = DigestAuth("Mufasa", "Circle of Life")
    assert repr(auth) == "DigestAuth(user='Mufasa', password=<redacted>)"
    assert "Circle" not in str(auth)
    assert auth.header_names == frozenset({"authorization", "proxy-authorization"})
    auth.permits("https://a.test/")
    clone = pickle.loads(pickle.dumps(auth))
    assert clone == auth
    assert clone.bound_origin == auth.bound_origin
    assert DigestAuth("Mufasa", "x") != auth
