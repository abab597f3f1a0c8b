// The radio log: newest at the bottom, appended in place, kept to a few hundred lines.
import { h } from "/static/common/dom.js";
import { clock } from "/static/common/format.js";

const KEEP = 300;

export class RadioView {
  constructor(list) {
    this.list = list;
  }

  _item(entry) {
    return h(
      "li",
      { class: entry.channel === "emergency" ? "emergency" : "" },
      h("time", { datetime: new Date(entry.at).toISOString() }, clock(entry.at)),
      entry.unit ? h("strong", {}, `${entry.unit} `) : null,
      entry.text,
      entry.incident ? h("span", { class: "muted" }, ` [${entry.incident}]`) : null,
      entry.channel !== "main" ? h("span", { class: "muted" }, ` (${entry.channel})`) : null,
    );
  }

  render(state) {
    this.list.replaceChildren(...state.radio.map((e) => this._item(e)));
    this.list.scrollTop = this.list.scrollHeight;
  }

  append(entry) {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.append(this._item(entry));
    while (this.list.children.length > KEEP) this.list.firstChild.remove();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }
}
