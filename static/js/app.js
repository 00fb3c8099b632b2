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
