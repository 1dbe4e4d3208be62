"""Every "Sign in required" page says where the reviewer's password is, when the deployment
(the demo) gives the emulator a hint: a newcomer who missed the start-up banner is not stuck."""

from __future__ import annotations

import requests

from portal_emulator.testing import run_emulator

HINT = "Local demo: sign in as 'cdo' with the password in /home/x/.local/reviewer-password <b>"


def test_the_401_pages_carry_the_hint_escaped(tmp_path):
    with run_emulator(tmp_path, strict=False, extra_args=["--sign-in-hint", HINT]) as emu:
        for path in ("/review", "/d/abcd-1234"):
            answer = requests.get(f"{emu.url}{path}", timeout=10)
            if answer.status_code == 404:
                continue
            assert answer.status_code == 401, path
            assert "/home/x/.local/reviewer-password &lt;b&gt;" in answer.text
        wrong = requests.get(f"{emu.url}/review", auth=("cdo", "not-the-password"), timeout=10)
        assert wrong.status_code == 401
        assert "reviewer-password" in wrong.text


def test_without_a_hint_the_page_says_only_what_is_needed(tmp_path):
    with run_emulator(tmp_path, strict=False) as emu:
        answer = requests.get(f"{emu.url}/review", timeout=10)
        assert answer.status_code == 401
        assert "reviewers" in answer.text
        assert 'class="hint"' not in answer.text
