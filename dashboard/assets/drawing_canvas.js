// A freehand canvas for digits: white ink on black, round caps and joins, the brush
// width from Python. On every pen lift it sends the drawing at once (a PNG data URL),
// so the page can answer as the pen leaves the canvas; Undo and Clear send too.
// Where the server has Draw's answer route (dashboard/live_answer.py) the drawing is
// also posted there, and the digit shows beside the tools before the page reruns.
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const side = data.side;
  let state = parentElement.__drawing;
  if (!state) {
    const canvas = parentElement.querySelector("canvas");
    canvas.width = canvas.height = side;
    canvas.style.width = canvas.style.height = `${side}px`;
    state = parentElement.__drawing = { canvas, ctx: canvas.getContext("2d"), strokes: [], current: null };
    const at = (event) => {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * side / box.width, (event.clientY - box.top) * side / box.height];
    };
    state.answer = parentElement.querySelector(".answer");
    state.asked = 0;
    const send = () => {
      const png = state.strokes.length ? canvas.toDataURL("image/png") : null;
      // The page reruns once the quick answer is on screen, so the two do not compete.
      ask(state, png).finally(() => setStateValue("png", png));
    };
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      state.current = { width: state.brush, points: [at(event)] };
      state.strokes.push(state.current);
      paint(state);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!state.current) return;
      state.current.points.push(at(event));
      paint(state);
    });
    const lift = () => {
      if (!state.current) return;
      state.current = null;
      send();
    };
    canvas.addEventListener("pointerup", lift);
    canvas.addEventListener("pointercancel", lift);
    parentElement.querySelector(".undo").addEventListener("click", () => {
      state.strokes.pop();
      paint(state);
      send();
    });
    parentElement.querySelector(".clear").addEventListener("click", () => {
      state.strokes = [];
      paint(state);
      send();
    });
    paint(state);
  }
  state.brush = data.brush;
  const route = data.answer || null;
  if (state.route && (!route || route.token !== state.route.token)) {
    state.answer.textContent = "";  // another model: its answer is not this one's
  }
  state.route = route;
}

// The page's rerun waits for the quick answer at most this long.
const ANSWER_WAIT_MS = 2000;

// Post the drawing to the answer route and show its digit; only the newest
// drawing's reply is shown, and a failed one leaves the page's own answer to come.
function ask(state, png) {
  const { answer } = state;
  const asked = ++state.asked;
  if (!png || !state.route) { answer.textContent = ""; return Promise.resolve(); }
  answer.style.opacity = 0.4;  // the last drawing's answer, until this one's comes
  const shown = (text) => {
    if (asked !== state.asked) return;  // a newer drawing has been asked about since
    answer.dataset.drawing = asked;  // which drawing the text answers (it can read the same twice)
    answer.textContent = text;
    answer.style.opacity = 1;
  };
  return fetch(state.route.url, {
    method: "POST", headers: { "Content-Type": "application/json" }, priority: "high",
    signal: AbortSignal.timeout(ANSWER_WAIT_MS),
    body: JSON.stringify({ token: state.route.token, png }),
  }).then((reply) => (reply.ok ? reply.json() : null)).then((said) => {
    shown(said && said.digit !== null ? `reads as ${said.digit} · ${(100 * said.confidence).toFixed(0)}%` : "");
  }).catch(() => shown(""));
}

function paint(state) {
  const { ctx, canvas } = state;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineCap = ctx.lineJoin = "round";
  for (const stroke of state.strokes) {
    const [x0, y0] = stroke.points[0];
    if (stroke.points.length === 1) {  // a dot
      ctx.beginPath();
      ctx.arc(x0, y0, stroke.width / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.lineWidth = stroke.width;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    for (const [x, y] of stroke.points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
}
