// A signature pad: draw with a finger, mouse or pen; read it as a PNG blob.

export class SignaturePad {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.strokes = 0;
    this.drawing = false;
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
      canvas.addEventListener(type, () => { this.drawing = false; });
    }
    this.clear();
  }

  #point(e) {
    const box = this.canvas.getBoundingClientRect();
    return [
      ((e.clientX - box.left) * this.canvas.width) / box.width,
      ((e.clientY - box.top) * this.canvas.height) / box.height,
    ];
  }

  #down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.strokes += 1;
    const [x, y] = this.#point(e);
    this.context.beginPath();
    this.context.moveTo(x, y);
    this.context.lineTo(x + 0.1, y + 0.1);
    this.context.stroke();
  }

  #move(e) {
    if (!this.drawing) return;
    e.preventDefault();
    const [x, y] = this.#point(e);
    this.context.lineTo(x, y);
    this.context.stroke();
  }

  clear() {
    const c = this.context;
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    c.strokeStyle = "#1b1f24";
    c.lineWidth = 2.5;
    c.lineCap = c.lineJoin = "round";
    this.strokes = 0;
  }

  get empty() {
    return this.strokes === 0;
  }

  // The drawing as a PNG (null when nothing was drawn).
  toBlob() {
    if (this.empty) return Promise.resolve(null);
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}
