// The live alarm stream (server-sent events, console/stream.py): one `alarm` event per
// change, a keepalive comment when idle. EventSource reconnects by itself after a network
// error (the server asks for a retry after 1 s), but gives up for good on an HTTP error
// (the service restarting behind a proxy, or the session ended); then we start it again,
// having first asked whether we are still logged in (a 401 goes to the login page).

import { LoggedOut } from "./api.js";

const STREAM_URL = "/api/alarms/stream";
const RECONNECT_MS = 3000;

/**
 * Connect and stay connected. ``onOpen()`` after each (re)connection (fetch what changed
 * meanwhile), ``onChange(change)`` per event, ``onLost()`` when the stream drops, and
 * ``checkSession()`` before starting again after an HTTP error.
 */
export function connectLive({ onOpen, onChange, onLost, checkSession }) {
  let source = null;
  let timer = null;

  function open() {
    timer = null;
    source = new EventSource(STREAM_URL);
    source.addEventListener("open", () => {
      document.body.dataset.live = "connected"; // for tests and for styling hooks
      onOpen();
    });
    source.addEventListener("alarm", (event) => {
      let change = null;
      try {
        change = JSON.parse(event.data);
      } catch (_) {
        return; // a broken event: the refetch after the next one puts the list right
      }
      onChange(change);
    });
    source.addEventListener("error", () => {
      document.body.dataset.live = "lost";
      onLost();
      if (source.readyState === EventSource.CLOSED && timer === null) {
        timer = setTimeout(async () => {
          try {
            await checkSession();
          } catch (error) {
            if (error instanceof LoggedOut) return; // on the way to the login page
            // Unreachable: try the stream anyway; its next error says the same.
          }
          open();
        }, RECONNECT_MS);
      }
    });
  }

  open();
  return {
    close() {
      if (timer !== null) clearTimeout(timer);
      if (source) source.close();
    },
  };
}
