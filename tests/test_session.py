"""Sessions read the environment once; retries back off and give up."""

from __future__ import annotations

import threading

import pytest

from bandersnatch.errors import RetryableError
from bandersnatch.upstream.session import RetryPolicy, SessionFactory


def test_config_proxy_wins_and_env_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    from_env = SessionFactory(5, None, "https://pypi.org").new()
    assert from_env.proxies["https"] == "http://env-proxy:3128"
    assert from_env.verify == "/etc/ssl/corp.pem"
    assert from_env.trust_env is False
    configured = SessionFactory(5, "http://cfg:8080", "https://pypi.org").new()
    assert configured.proxies == {"http": "http://cfg:8080", "https": "http://cfg:8080"}


def test_no_proxy_for_the_master_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert SessionFactory(5, None, "http://127.0.0.1:8000").new().proxies == {}


def test_one_session_per_thread() -> None:
    factory = SessionFactory(5)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(factory.get())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 3
    assert factory.get() is factory.get()
    factory.close()


def test_retry_policy_retries_then_gives_up() -> None:
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("u", "HTTP 503")
        return 7

    assert RetryPolicy(retries=2, backoff=0.001).run("x", flaky) == 7
    calls.clear()
    with pytest.raises(RetryableError):
        RetryPolicy(retries=1, backoff=0.001).run("x", flaky)
    assert len(calls) == 2


def test_retry_after_is_honoured_but_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("bandersnatch.upstream.session.time.sleep", slept.append)
    calls = []

    def limited() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RetryableError("u", "HTTP 429", retry_after=7)
        if len(calls) == 2:
            raise RetryableError("u", "HTTP 503", retry_after=3600)
        return "ok"

    assert RetryPolicy(retries=3, backoff=0.001, max_wait=60).run("x", limited) == "ok"
    assert slept[0] == 7
    assert slept[1] == 60
