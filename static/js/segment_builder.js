// Segment rule builder: draws the rules kept as JSON in a hidden input as rows of field / comparison /
// value, in groups matching all or any of their conditions, and writes the JSON back on every change.
// The server validates and counts (the "rules-changed" event drives the debounced live count).
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === undefined || value === null || value === false) { return; }
      if (key === "text") { node.textContent = value; } else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function select(options, selected, attrs) {
    const node = el("select", Object.assign({ class: "form-select form-select-sm" }, attrs));
    options.forEach(function ([value, label]) {
      const option = el("option", { value: value, text: label });
      const chosen = Array.isArray(selected) ? selected.map(String).includes(String(value)) : String(selected) === String(value);
      if (chosen) { option.selected = true; }
      node.appendChild(option);
    });
    return node;
  }

  function init(root) {
    const config = JSON.parse(document.getElementById(root.dataset.config).textContent);
    const input = document.getElementById(root.dataset.input);
    const labels = config.labels;
    const fields = Object.fromEntries(config.fields.map(function (f) { return [f.name, f]; }));
    let state;
    try { state = JSON.parse(input.value || "{}"); } catch (e) { state = {}; }
    if (!state || !Array.isArray(state.rules)) { state = { match: "all", rules: [] }; }

    function save() {
      input.value = JSON.stringify(state);
      document.body.dispatchEvent(new CustomEvent("rules-changed"));
    }
    function redraw() { root.replaceChildren(drawGroup(state, 1, null)); save(); }

    function operatorOf(rule) {
      return fields[rule.field].operators.find(function (o) { return o.name === rule.op; }) || fields[rule.field].operators[0];
    }
    function defaultValue(field, kind) {
      const list = config.lists[field.choices] || [];
      switch (kind) {
        case "ids": case "choices": return [];
        case "choice": return list.length ? list[0][0] : "";
        case "date": return new Date().toISOString().slice(0, 10);
        case "days": return 30;
        case "identity": return { provider: "line", channel: "" };
        case "count": return { kind: "", count: 1, days: null };
        case "attribute": return { key: "", value: "" };
        case "text": return "";
        default: return null;
      }
    }
    function newRule() {
      const field = config.fields[0];
      return { field: field.name, op: field.operators[0].name, value: defaultValue(field, field.operators[0].value) };
    }

    function drawValue(rule) {
      const field = fields[rule.field];
      const kind = operatorOf(rule).value;
      const list = config.lists[field.choices] || [];
      const label = field.label;
      const box = el("div", { class: "d-flex flex-wrap gap-2" });
      function on(node, key, parse) {
        node.addEventListener(node.tagName === "SELECT" ? "change" : "input", function () {
          let value = node.multiple ? Array.from(node.selectedOptions).map(function (o) { return o.value; }) : node.value;
          if (parse) { value = parse(value); }
          if (key) { rule.value[key] = value; } else { rule.value = value; }
          save();
        });
        return node;
      }
      const number = function (v) { return v === "" ? null : Number(v); };
      if (kind === "ids" || kind === "choices") {
        box.appendChild(on(select(list, rule.value, { multiple: true, size: Math.min(4, Math.max(2, list.length)), "aria-label": label })));
      } else if (kind === "choice") {
        box.appendChild(on(select(list, rule.value, { "aria-label": label })));
      } else if (kind === "text") {
        box.appendChild(on(el("input", { class: "form-control form-control-sm", value: rule.value, maxlength: 200, "aria-label": label })));
      } else if (kind === "date") {
        box.appendChild(on(el("input", { type: "date", class: "form-control form-control-sm", value: rule.value, "aria-label": label })));
      } else if (kind === "days") {
        box.appendChild(on(el("input", { type: "number", min: 1, class: "form-control form-control-sm", style: "max-width:8rem", value: rule.value, "aria-label": label }), null, number));
      } else if (kind === "identity") {
        box.appendChild(on(select(list, rule.value.provider, { "aria-label": label, style: "max-width:10rem" }), "provider"));
        box.appendChild(on(el("input", { class: "form-control form-control-sm", style: "max-width:14rem", value: rule.value.channel || "", placeholder: labels.channel, "aria-label": labels.channel }), "channel"));
      } else if (kind === "count") {
        box.appendChild(on(el("input", { type: "number", min: 0, class: "form-control form-control-sm", style: "max-width:6rem", value: rule.value.count, "aria-label": labels.count }), "count", number));
        box.appendChild(on(select([["", labels.any_kind]].concat(list), rule.value.kind, { "aria-label": label, style: "max-width:12rem" }), "kind"));
        box.appendChild(on(el("input", { type: "number", min: 1, class: "form-control form-control-sm", style: "max-width:14rem", value: rule.value.days === null ? "" : rule.value.days, placeholder: labels.days, "aria-label": labels.days }), "days", number));
      } else if (kind === "attribute") {
        box.appendChild(on(el("input", { class: "form-control form-control-sm", style: "max-width:12rem", value: rule.value.key, placeholder: labels.key, "aria-label": labels.key }), "key"));
        if (!["exists", "not_exists"].includes(rule.op)) {
          box.appendChild(on(el("input", { class: "form-control form-control-sm", style: "max-width:14rem", value: rule.value.value, placeholder: labels.value, "aria-label": labels.value }), "value"));
        }
      }
      return box;
    }

    function removeButton(onClick) {
      const button = el("button", { type: "button", class: "btn btn-sm btn-outline-danger", title: labels.remove, "aria-label": labels.remove }, [el("i", { class: "bi bi-x-lg" })]);
      button.addEventListener("click", onClick);
      return button;
    }

    function drawRule(rule, group, index) {
      const fieldSelect = select(config.fields.map(function (f) { return [f.name, f.label]; }), rule.field, { "aria-label": labels.field, "data-testid": "rule-field" });
      fieldSelect.addEventListener("change", function () {
        const field = fields[fieldSelect.value];
        rule.field = field.name;
        rule.op = field.operators[0].name;
        rule.value = defaultValue(field, field.operators[0].value);
        redraw();
      });
      const opSelect = select(fields[rule.field].operators.map(function (o) { return [o.name, o.label]; }), rule.op, { "aria-label": labels.comparison, "data-testid": "rule-op" });
      opSelect.addEventListener("change", function () {
        const before = operatorOf(rule).value;
        rule.op = opSelect.value;
        if (operatorOf(rule).value !== before) { rule.value = defaultValue(fields[rule.field], operatorOf(rule).value); }
        redraw();
      });
      return el("div", { class: "row g-2 align-items-start mb-2 rb-rule", "data-testid": "rule-row" }, [
        el("div", { class: "col-12 col-md-3" }, [fieldSelect]),
        el("div", { class: "col-10 col-md-3" }, [opSelect]),
        el("div", { class: "col-12 col-md-5 order-3 order-md-2" }, [drawValue(rule)]),
        el("div", { class: "col-2 col-md-1 order-2 order-md-3 text-end" }, [removeButton(function () { group.rules.splice(index, 1); redraw(); })]),
      ]);
    }

    function drawGroup(group, depth, parent) {
      const match = select([["all", labels.all], ["any", labels.any]], group.match, { "aria-label": labels.match, style: "width:auto", "data-testid": "group-match" });
      match.addEventListener("change", function () { group.match = match.value; save(); });
      const head = el("div", { class: "d-flex align-items-center gap-2 mb-2" }, [
        el("span", { text: labels.match }), match, el("span", { class: "me-auto", text: labels.of_these }),
        parent ? removeButton(function () { parent.rules.splice(parent.rules.indexOf(group), 1); redraw(); }) : null,
      ]);
      const body = el("div", {});
      group.rules.forEach(function (child, index) {
        body.appendChild(Array.isArray(child.rules) ? drawGroup(child, depth + 1, group) : drawRule(child, group, index));
      });
      const addRule = el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-testid": "add-rule" }, [el("i", { class: "bi bi-plus-lg me-1" }), document.createTextNode(labels.add_rule)]);
      addRule.addEventListener("click", function () { group.rules.push(newRule()); redraw(); });
      const actions = el("div", { class: "d-flex gap-2" }, [addRule]);
      if (depth < 3) {
        const addGroup = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "add-group" }, [el("i", { class: "bi bi-diagram-2 me-1" }), document.createTextNode(labels.add_group)]);
        addGroup.addEventListener("click", function () { group.rules.push({ match: group.match === "all" ? "any" : "all", rules: [newRule()] }); redraw(); });
        actions.appendChild(addGroup);
      }
      return el("div", { class: "rb-group border rounded p-2 mb-2" + (depth > 1 ? " bg-light" : ""), "data-depth": depth }, [head, body, actions]);
    }

    redraw();
  }

  function start() {
    document.querySelectorAll("[data-rule-builder]").forEach(function (root) {
      if (!root.dataset.ready) { root.dataset.ready = "1"; init(root); }
    });
    const kind = document.getElementById("id_kind");
    const rulesCard = document.getElementById("rules-card");
    if (kind && rulesCard) {
      const toggle = function () { rulesCard.hidden = kind.value === "static"; };
      kind.addEventListener("change", toggle);
      toggle();
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
