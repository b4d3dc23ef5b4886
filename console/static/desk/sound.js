// The alarm tone, made with the Web Audio API: no audio file to load or to lose.
//
// Browsers refuse to play sound before the person has interacted with the page (the
// autoplay policy): an AudioContext made at load starts "suspended" and stays silent until
// resume() is called from a click or a key press. So the page makes one at once (a kiosk
// started with --autoplay-policy=no-user-gesture-required gets a running one and needs
// nothing more), and otherwise shows "启用声音 / Enable sound" until somebody clicks it, or
// clicks or types anywhere on the page. After each reload that one click is needed again,
// which is why the button turns urgent when an alarm wants sounding.
//
// The repeat runs on a timer, which browsers slow down in a hidden tab: keep the desk's
// page in front (its own window) so that the tone keeps its pace.
//
// Mute silences the tone until the next critical or high alarm is raised: like the
// "silence" key of a fire panel, it never hides a new fire. It is not remembered across
// reloads, so a desk is never left silent by yesterday's click.

// The tone repeats this often while a critical or high alarm waits for somebody.
const REPEAT_MS = 4000;

/**
 * The desk's sound. ``wanted()`` says whether an alarm waits to be heard; ``onChange()``
 * is called when the sound's state changes (on, off, muted), to redraw its buttons.
 */
export function createSound({ wanted, onChange }) {
  const Context = window.AudioContext || window.webkitAudioContext;
  let context = null;
  let muted = false;
  let tones = 0;

  const running = () => Boolean(context && context.state === "running");

  function ensureContext() {
    if (!Context) return null;
    if (!context) {
      context = new Context();
      context.addEventListener("statechange", () => {
        onChange();
        // Sound just came on while an alarm waits: heard at once, so the guard knows it
        // works (and a click that merely enabled it is not followed by silence).
        if (running() && wanted()) tone();
      });
    }
    return context;
  }

  // Must run inside the click or key handler: that is what lets the browser start it.
  // Without a gesture Chrome keeps the promise pending; a later call still works.
  function enable() {
    const ctx = ensureContext();
    if (ctx && ctx.state !== "running") ctx.resume().catch(onChange);
  }

  // Two short notes, high then low, with soft edges (a hard start or stop clicks).
  function tone() {
    if (!running() || muted) return;
    const start = context.currentTime + 0.02;
    const gain = context.createGain();
    gain.connect(context.destination);
    gain.gain.setValueAtTime(0, start);
    [880, 660].forEach((frequency, i) => {
      const at = start + i * 0.22;
      const osc = context.createOscillator();
      osc.type = "triangle";
      osc.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.3, at + 0.02);
      gain.gain.setValueAtTime(0.3, at + 0.16);
      gain.gain.linearRampToValueAtTime(0, at + 0.2);
      osc.connect(gain);
      osc.start(at);
      osc.stop(at + 0.21);
    });
    tones += 1;
    document.body.dataset.tones = String(tones); // for tests: how many tones were played
  }

  return {
    supported: Boolean(Context),
    running,
    get muted() {
      return muted;
    },
    enable,
    start() {
      ensureContext(); // may already run, where the browser allows it
      // Any click or key press is a gesture the browser accepts for resume().
      for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, enable);
      setInterval(() => {
        if (wanted()) tone();
      }, REPEAT_MS);
    },
    toggleMute() {
      muted = !muted;
      onChange();
    },
    /** A new critical or high alarm: the mute ends and the tone sounds at once. */
    alarmArrived() {
      muted = false;
      tone();
      onChange();
    },
  };
}
