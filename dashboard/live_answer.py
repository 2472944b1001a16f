"""Draw's answer on pen-up without a page rerun.

A Streamlit rerun costs every browser a React render of the whole fragment (about
0.3 s of CPU a stroke here), and with several people drawing those renders queue.
So the canvas also posts its drawing straight to `ANSWER_PATH` and shows the digit
and its confidence the moment the reply comes (a few ms of server work); the
fragment rerun that the same pen-up starts then brings the probabilities and maps.

The page hands the canvas a random token for the model it shows; the route answers
only for a token it handed out (for as long as that model stays loaded: it holds no
model alive), reads at most `MAX_BODY` bytes, and decodes the drawing with the
canvas's own guarded decoder. The work runs off the event loop on one worker with a
short queue, and a flood is refused at once (dashboard/answer_limits.py). Without
the route (`streamlit run dashboard/app.py`, AppTest) the canvas is given no token
and the rerun alone answers.

A model that learns while it is shown (your model on Draw, core.runs.learning_run)
is named by its model.pt instead: the route loads the file again whenever it has
changed, so the stroke after a correction is read by the weights that learned it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import weakref
from collections import OrderedDict

import torch.nn as nn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from streamlit import config as st_config
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.prediction import predict_image
from core.runs.checkpoint import CheckpointError, load_model
from dashboard.answer_limits import PER_TOKEN_PER_SECOND, BoundedWorker, PerTokenRate, Saturated
from dashboard.drawing_canvas import decode_drawing

ANSWER_PATH = "/digit-lab/answer"
MAX_BODY = 5 * 2**20  # bytes: a 280x280 PNG data URL is ~40 kB; the decoder refuses over 4 MB
MAX_TOKENS = 256  # the oldest go first

_mounted = False  # set by route(): dashboard/server.py mounts it
_url = ANSWER_PATH  # where it is mounted
_rate = PerTokenRate()
_worker = BoundedWorker()
_lock = threading.Lock()
_models: OrderedDict[str, tuple[weakref.ref, int, str]] = OrderedDict()  # token -> (model, input side, session)
MAX_FOLLOWED = 16  # model files the route keeps loaded itself (each a few MB), the oldest dropped
# token -> [model.pt path, its mtime, the model loaded from it, input side, the model until the file exists,
# the session it was handed to]
_followed: OrderedDict[str, list] = OrderedDict()


def _served_path() -> str:
    """ANSWER_PATH under `server.baseUrlPath` (an app behind a path-prefix proxy): st.App
    mounts routes of its own at the root, so the prefix is ours to add."""
    base = (st_config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{ANSWER_PATH}" if base else ANSWER_PATH


def route() -> Route:
    """The answer route, for the server to mount; from then on the canvas is given tokens."""
    global _mounted, _url
    _mounted, _url = True, _served_path()
    return Route(_url, answer, methods=["POST"])


def for_canvas(model: nn.Module, side: int, follow: str | os.PathLike | None = None) -> dict | None:
    """What the canvas needs to ask for `model`'s answer itself, or None without the route.
    `follow`: a model.pt to answer with instead, read again each time it changes
    (`model` answers until the file first appears)."""
    if not _mounted:
        return None
    session = _session()
    token = token_for(model, side, session) if follow is None else _follow_token(follow, side, model, session)
    return {"url": _url, "token": token}


def _follow_token(path, side: int, until_then: nn.Module, session: str) -> str:
    path = str(path)
    with _lock:
        token = next((t for t, entry in _followed.items() if entry[0] == path and entry[3] == side
                      and entry[5] == session), None)
        if token is None:
            token = secrets.token_urlsafe(16)
            _followed[token] = [path, None, None, side, weakref.ref(until_then), session]
        _followed.move_to_end(token)
        while len(_followed) > MAX_FOLLOWED:
            _followed.popitem(last=False)
        return token


def _followed_model(token: str):
    """(the newest weights of a followed model.pt, side), or None for another token."""
    with _lock:
        entry = _followed.get(token)
    if entry is None:
        return None
    path, seen, model, side, until_then, _ = entry
    try:
        mtime = os.stat(path).st_mtime_ns
        if model is None or mtime != seen:
            model = load_model(path)[0]  # the file is replaced whole (a rename): never half-written
            entry[1], entry[2] = mtime, model
    except (OSError, CheckpointError):
        pass  # not there yet, or gone bad: the last weights loaded (or the first model) keep answering
    model = model if model is not None else until_then()
    return None if model is None else (model, side)


def token_for(model: nn.Module, side: int, session: str = "") -> str:
    """The token that names (`model`, `side`) to the route for one browser session: the
    same one on every rerun, another for every session (so a session that floods the
    route spends only its own share, see dashboard/answer_limits.py)."""
    with _lock:
        token = next((t for t, (ref, s, owner) in _models.items() if ref() is model and s == side
                      and owner == session), None)
        if token is None:
            token = secrets.token_urlsafe(16)
            _models[token] = (weakref.ref(model), side, session)
        _models.move_to_end(token)
        while len(_models) > MAX_TOKENS:
            _models.popitem(last=False)
        return token


def _session() -> str:
    """This script run's browser session, "" outside one."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else ""


def _problem(status: int, why: str) -> JSONResponse:
    return JSONResponse({"error": why}, status_code=status)


async def _body(request: Request) -> bytes | None:
    """The request's body, or None once it passes MAX_BODY (read no further)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def answer(request: Request) -> JSONResponse:
    """POST {"token": ..., "png": data URL} -> {"digit", "confidence"}, or {"digit": null}
    for a drawing without ink; a clear status and reason for anything else."""
    body = await _body(request)
    if body is None:
        return _problem(413, f"more than {MAX_BODY} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return _problem(400, "not JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
        return _problem(400, "no token")
    token = payload["token"]
    if not _rate.allow(token):
        return _problem(429, f"more than {PER_TOKEN_PER_SECOND} drawings a second for this token")
    try:
        status, reply = await _worker.run(_read, token, payload.get("png"))
    except Saturated:
        return _problem(503, "busy: the page's own answer follows")
    return JSONResponse(reply, status_code=status)


def _read(token: str, png) -> tuple[int, dict]:
    """On the worker thread: the token's model (loaded again if its file changed), the
    drawing decoded, its answer; (status, reply)."""
    followed = _followed_model(token)
    if followed is not None:
        model, side = followed
    else:
        with _lock:
            ref, side, _ = _models.get(token, (lambda: None, 0, ""))
        model = ref()
    if model is None:
        return 404, {"error": "unknown token, or its model is no longer loaded"}
    rgba = decode_drawing(png)
    if rgba is None:
        return 400, {"error": "not a drawing"}
    try:
        prediction = predict_image(model, rgba, side)
    except NoDigitError:
        return 200, {"digit": None}
    except ImageError as e:
        return 400, {"error": str(e)}
    return 200, {"digit": prediction.digit, "confidence": prediction.confidence}
