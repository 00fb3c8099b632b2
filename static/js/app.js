// Small progressive enhancements; every page works without them.
document.addEventListener("keydown", function (event) {
  // Ctrl/Cmd+Enter submits the form a textarea belongs to.
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && event.target.tagName === "TEXTAREA" && event.target.form) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
  // "/" focuses the search box unless the user is typing somewhere.
  if (event.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const search = document.querySelector(".app-search");
    if (search) { event.preventDefault(); search.focus(); }
  }
});
document.addEventListener("submit", function (event) {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});

// Switching language stays on the page as it is now, search and filters included (htmx may have
// changed the address since the page loaded).
document.addEventListener("change", function (event) {
  const form = event.target.closest(".js-language-form");
  if (!form || event.target.name !== "language") { return; }
  const next = form.querySelector("[name=next]");
  if (next) { next.value = window.location.pathname + window.location.search; }
  form.submit();
});

// The caller card's close button empties the pop; a new call fills it again.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-dismiss-call]")) {
    const pop = document.getElementById("call-pop");
    if (pop) { pop.innerHTML = ""; }
  }
});

// Sales board: drag a card to another column (SortableJS, when loaded) to move the deal. The server
// checks the card's version so a stale board never overwrites someone else's change; its answer puts
// the card where it really is and refreshes the column totals. The card's "Move…" menu does the same
// from the keyboard, and works without JavaScript.
(function () {
  function initBoard(root) {
    if (!window.Sortable) { return; }
    root.querySelectorAll(".board-cards").forEach(function (list) {
      if (list.dataset.sortable || !list.closest(".board")) { return; }
      list.dataset.sortable = "1";
      window.Sortable.create(list, {
        group: "deals",
        draggable: ".deal-card",
        filter: "details, button, a, input, select, textarea, form",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 4,
        animation: 120,
        onEnd: function (event) {
          if (event.from === event.to) { return; }
          const card = event.item;
          htmx.ajax("POST", card.dataset.moveUrl, {
            source: card,
            swap: "none",
            values: { stage: event.to.dataset.stage, version: card.dataset.version },
          });
        },
      });
    });
  }
  if (window.htmx) { htmx.onLoad(initBoard); }
  // A conflict (409) or a refused move (400) still carries the card as it is and a message: show them.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if ((status === 409 || status === 400) && event.detail.elt.closest && event.detail.elt.closest(".board, .deal-card, #board")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // A move made from the card's menu closes the menu.
  document.addEventListener("htmx:afterRequest", function (event) {
    const menu = event.detail.elt.closest && event.detail.elt.closest(".deal-move-menu");
    if (menu && event.detail.requestConfig && event.detail.requestConfig.verb === "post") { menu.open = false; }
  });
  // Reminders arrive as toasts over the live connection; they close by themselves after a while.
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail.type !== "notify") { return; }
    const area = document.getElementById("notifications");
    if (!area) { return; }
    area.querySelectorAll(".app-notification").forEach(function (toast, index) {
      if (index >= 5) { toast.remove(); }
    });
  });
  document.addEventListener("click", function (event) {
    const close = event.target.closest(".app-notification [data-bs-dismiss=toast]");
    if (close) { close.closest(".app-notification").remove(); }
  });
})();

// SLA countdowns: the server renders the time left; this keeps it current without asking the server.
(function () {
  function units() {
    const node = document.getElementById("sla-units");
    try { return node ? JSON.parse(node.textContent) : null; } catch (error) { return null; }
  }
  function format(template, values) {
    return template.replace(/%\((\w+)\)(02)?d/g, function (match, name, pad) {
      const value = String(values[name]);
      return pad ? value.padStart(2, "0") : value;
    });
  }
  function text(seconds, formats) {
    const left = Math.abs(seconds);
    const days = Math.floor(left / 86400);
    const hours = Math.floor((left % 86400) / 3600);
    const minutes = Math.floor((left % 3600) / 60);
    const shown = days ? format(formats.d, { days: days, hours: hours })
      : hours ? format(formats.h, { hours: hours, minutes: minutes })
      : format(formats.m, { minutes: minutes });
    return seconds < 0 ? "\u2212" + shown : shown;
  }
  function tick() {
    const formats = units();
    if (!formats) { return; }
    document.querySelectorAll("time.sla-countdown[datetime]").forEach(function (element) {
      const due = Date.parse(element.getAttribute("datetime"));
      if (isNaN(due)) { return; }
      const seconds = Math.floor((due - Date.now()) / 1000);
      element.textContent = text(seconds, formats);
      const badge = element.closest(".sla-badge");
      if (badge) { badge.classList.toggle("sla-overdue", seconds <= 0); }
    });
  }
  setInterval(tick, 30000);
  document.addEventListener("htmx:afterSwap", tick);
})();
