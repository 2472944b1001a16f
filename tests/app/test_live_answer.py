"""Draw's answer route (dashboard/live_answer.py), called as the server calls it: the
default model reads a drawn digit, and whatever else is posted gets a clear status."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json

import pytest
from PIL import Image
from starlette.requests import Request

from core.predict import model_path
from core.runs.checkpoint import load_model
from dashboard import live_answer
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, digit_of, render


def post(body: bytes, chunk: int = 64 * 2**10) -> tuple[int, dict]:
    """POST `body` to the route in `chunk`-byte pieces, as the server streams it."""
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive():
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    scope = {"type": "http", "method": "POST", "path": live_answer.ANSWER_PATH, "headers": [], "query_string": b""}
    response = asyncio.run(live_answer.answer(Request(scope, receive)))
    return response.status_code, json.loads(response.body)


def data_url(rgba) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def ask(token: str, png) -> tuple[int, dict]:
    return post(json.dumps({"token": token, "png": png}).encode())


@pytest.fixture(scope="module")
def model():
    return load_model(model_path(None))[0]


@pytest.mark.parametrize("style", ["7-plain", "1-plain", "4-open", "0", "3", "8"])
def test_the_default_model_reads_a_drawing_posted_by_the_canvas(model, style):
    token = live_answer.token_for(model, 28)
    drawing = render(canvas_strokes(STYLES[style], PLACEMENTS["large-centred"]), brush=18)
    status, said = ask(token, data_url(drawing))
    assert status == 200 and said["digit"] == digit_of(style), said
    assert 0.5 < said["confidence"] <= 1


def test_a_blank_canvas_has_no_digit_and_tokens_are_stable(model):
    token = live_answer.token_for(model, 28)
    assert live_answer.token_for(model, 28) == token, "a rerun must not hand out a new token"
    assert live_answer.token_for(model, 16) != token, "another input side is another token"
    blank = render([], brush=18)
    assert ask(token, data_url(blank)) == (200, {"digit": None})


def test_what_is_not_a_question_gets_a_clear_status(model):
    token = live_answer.token_for(model, 28)
    drawing = data_url(render(canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]), brush=18))
    assert ask("not-a-token", drawing)[0] == 404
    assert post(b"{not json")[0] == 400
    assert post(b"[" * 100_000 + b"]" * 100_000)[0] == 400  # nesting deep enough to exhaust the parser
    assert post(json.dumps({"png": drawing}).encode())[0] == 400
    assert post(json.dumps([token, drawing]).encode())[0] == 400
    for hostile in (None, 7, "data:text/html;base64,PGI+", "data:image/png;base64,not base64!"):
        assert ask(token, hostile)[0] == 400
    status, said = post(b" " * (live_answer.MAX_BODY + 1))
    assert status == 413 and "bytes" in said["error"]


def test_a_model_no_longer_loaded_is_not_kept_alive_by_its_token():
    unloaded = load_model(model_path(None))[0]
    token = live_answer.token_for(unloaded, 28)
    drawing = data_url(render(canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]), brush=18))
    assert ask(token, drawing)[0] == 200
    del unloaded
    gc.collect()
    status, said = ask(token, drawing)
    assert status == 404 and "no longer loaded" in said["error"]


def test_the_canvas_gets_a_token_only_where_the_route_is_mounted(model, monkeypatch):
    monkeypatch.setattr(live_answer, "_mounted", False)
    assert live_answer.for_canvas(model, 28) is None
    monkeypatch.setattr(live_answer, "_mounted", True)
    assert live_answer.for_canvas(model, 28) == {"url": live_answer.ANSWER_PATH,
                                                  "token": live_answer.token_for(model, 28)}


def test_a_flood_is_refused_at_once_and_others_keep_their_answers(model):
    """One token posting far faster than a person draws gets 429s; past the worker's
    queue everyone gets 503 at once; another token is still answered meanwhile."""
    from dashboard.answer_limits import PER_TOKEN_PER_SECOND, WAITING, WORKERS

    drawing = data_url(render(canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]), brush=18))
    flooder = live_answer.token_for(model, 28)
    other_model = load_model(model_path(None))[0]
    other = live_answer.token_for(other_model, 28)
    body = json.dumps({"token": flooder, "png": drawing}).encode()
    statuses = [post(body)[0] for _ in range(PER_TOKEN_PER_SECOND + 10)]
    assert statuses.count(429) >= 10 and statuses[0] == 200, statuses
    status, said = ask(other, drawing)
    assert status == 200 and said["digit"] == 7

    async def burst(n: int) -> list[int]:
        body = json.dumps({"token": other, "png": drawing}).encode()
        return [r.status_code for r in await asyncio.gather(*(_answer_async(body) for _ in range(n)))]

    live_answer._rate.per_second = 10_000  # this part is about the worker's queue alone
    try:
        codes = asyncio.run(burst(WORKERS + WAITING + 8))
    finally:
        live_answer._rate.per_second = PER_TOKEN_PER_SECOND
    assert codes.count(503) >= 8 and codes.count(200) >= WORKERS, codes
    assert ask(other, drawing)[0] == 200  # and it serves again once the burst is over


async def _answer_async(body: bytes):
    pieces = [body]

    async def receive():
        return {"type": "http.request", "body": pieces.pop(0) if pieces else b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": live_answer.ANSWER_PATH, "headers": [], "query_string": b""}
    return await live_answer.answer(Request(scope, receive))
