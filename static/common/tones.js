// Alert tones made with Web Audio (no sound files): one pattern per priority
// tone in the policy, and a distinct rising-falling yelp for a panic.
let ctx = null;

export function audioReady() {
  return ctx !== null && ctx.state === "running";
}

/** Browsers allow sound only after a user gesture: call this from one. */
export async function enableAudio() {
  ctx = ctx || new AudioContext();
  if (ctx.state !== "running") await ctx.resume();
  return audioReady();
}

function beep(freq, start, length, type = "square", gain = 0.08) {
  const osc = ctx.createOscillator();
  const vol = ctx.createGain();
  osc.type = type;
  osc.frequency.setValueAtTime(freq, ctx.currentTime + start);
  vol.gain.setValueAtTime(gain, ctx.currentTime + start);
  vol.gain.setValueAtTime(0, ctx.currentTime + start + length);
  osc.connect(vol).connect(ctx.destination);
  osc.start(ctx.currentTime + start);
  osc.stop(ctx.currentTime + start + length + 0.02);
  return osc;
}

const PATTERNS = {
  "hi-lo": () => [0, 0.35, 0.7, 1.05].forEach((t, i) => beep(i % 2 ? 650 : 960, t, 0.33)),
  double: () => [0, 0.25].forEach((t) => beep(880, t, 0.15)),
  single: () => beep(740, 0, 0.2, "sine"),
  none: () => {},
};

export function playTone(name) {
  if (!audioReady()) return false;
  (PATTERNS[name] || PATTERNS.single)();
  return true;
}

/** The panic yelp: a fast sweep up and down, three times. */
export function playPanic() {
  if (!audioReady()) return false;
  for (let i = 0; i < 3; i += 1) {
    const osc = beep(700, i * 0.5, 0.48, "sawtooth", 0.1);
    osc.frequency.linearRampToValueAtTime(1500, ctx.currentTime + i * 0.5 + 0.24);
    osc.frequency.linearRampToValueAtTime(700, ctx.currentTime + i * 0.5 + 0.48);
  }
  return true;
}
