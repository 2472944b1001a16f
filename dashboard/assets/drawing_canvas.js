// A freehand canvas for digits: white ink on black, round caps and joins, the brush
// width from Python. On every pen lift it sends the drawing at once (a PNG data URL),
// so the page can answer as the pen leaves the canvas; Undo and Clear send too.
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
    const send = () => setStateValue("png", state.strokes.length ? canvas.toDataURL("image/png") : null);
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
