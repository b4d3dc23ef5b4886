// The desk's front page: the live alarm queue above the room status board, and in demo
// mode the control that starts a simulated fire.

import { createBoard } from "./board.js";
import { createDemo } from "./demo.js";
import { el } from "./dom.js";
import { createQueue } from "./queue.js";

export function deskPage(desk) {
  const queue = createQueue(desk);
  const board = createBoard(desk);
  const demo = createDemo(desk);
  const node = el("div", { class: "desk-page" }, queue.node, board.node, demo.node);
  return {
    node,
    update() {
      queue.update();
      board.update();
      demo.update();
    },
    leave() {},
  };
}
