// The ladder page (ladder_html.py): a click on an arrow shows its message, decoded and in hex; a click on a line
// of the tree marks the bytes it stands for.  The messages are the JSON in #messages, numbered as the arrows are.
"use strict";
const messages = JSON.parse(document.getElementById("messages").textContent);
const pane = document.getElementById("detail");

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

// Show message `number` in the pane: where and when, the step's verdict, what it means, its tree and its bytes.
function show(number) {
  const message = messages[number];
  document.querySelectorAll(".msg.selected").forEach(arrow => arrow.classList.remove("selected"));
  document.querySelector(`.msg[data-msg="${number}"]`).classList.add("selected");
  const where = [message.time, `${message.from} → ${message.to}`];
  if (message.gate) where.push(`gate ${message.gate}`);
  pane.replaceChildren(element("h2", "", message.label), element("p", "where", where.join(" · ")));
  pane.classList.add("shown");
  if (message.detail) pane.append(element("p", "", message.detail));
  if (message.verdict) pane.append(element("p", message.verdict[1], message.verdict[0]));
  if (message.note) pane.append(element("p", "note", message.note));
  if (message.problem) pane.append(element("p", "err", message.problem));
  const bytes = hexDump(message.hex);
  if (message.tree) {  // the tree scrolls in its box; the bytes below it stay in sight
    const tree = element("ul", "tree"), box = element("div", "decoded");
    tree.append(treeLine(message.tree, bytes));
    box.append(element("h3", "", "Decoded"), tree);
    pane.append(box);
  }
  if (bytes.cells.length) {
    const box = element("div", "bytes");
    box.append(element("h3", "", `Bytes (${bytes.cells.length})`), bytes.dump);
    pane.append(box);
  }
}

// The bytes as a hex dump, 16 to a line, each byte a cell that can be marked.
function hexDump(hex) {
  const dump = element("pre", "hex"), cells = [], size = hex.length / 2;
  for (let offset = 0; offset < size; offset += 16) {
    dump.append(element("span", "off", offset.toString(16).padStart(4, "0")), "  ");
    for (let index = offset; index < Math.min(offset + 16, size); index++) {
      const cell = element("span", "", hex.substr(2 * index, 2));
      cells.push(cell);
      dump.append(cell, index % 16 === 15 ? "\n" : index % 8 === 7 ? "  " : " ");
    }
  }
  return {dump, cells};
}

// A line of the tree (a button that marks its bytes) and the lines under it.
function treeLine(node, bytes) {
  const item = element("li"), button = element("button");
  button.type = "button";
  for (const [text, className] of node.p) button.append(element("span", className, text));
  button.addEventListener("click", () => mark(button, bytes, node.o, node.n));
  item.append(button);
  if (node.c) {
    const list = element("ul");
    for (const child of node.c) list.append(treeLine(child, bytes));
    item.append(list);
  }
  return item;
}

function mark(button, bytes, offset, size) {
  pane.querySelectorAll(".chosen").forEach(chosen => chosen.classList.remove("chosen"));
  button.classList.add("chosen");
  bytes.cells.forEach((cell, index) => cell.classList.toggle("mark", index >= offset && index < offset + size));
  if (size && bytes.cells[offset]) bytes.cells[offset].scrollIntoView({block: "nearest"});
}

for (const arrow of document.querySelectorAll(".msg")) {
  arrow.addEventListener("click", () => show(Number(arrow.dataset.msg)));
  arrow.addEventListener("keydown", event => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      show(Number(arrow.dataset.msg));
    }
  });
}
