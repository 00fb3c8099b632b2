// The inbox keeps the newest message in view when the thread is loaded or refreshed, unless the
// user has scrolled up to read older ones.
(function () {
  function atBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
  function scrollDown(root) {
    const list = (root && root.querySelector && root.querySelector("#thread-messages")) || document.getElementById("thread-messages");
    if (list) { list.scrollTop = list.scrollHeight; }
  }
  let stick = true;
  document.addEventListener("htmx:beforeSwap", function (event) {
    const list = document.getElementById("thread-messages");
    if (list && event.detail.target === list) { stick = atBottom(list); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target.id === "thread-pane" || (target.id === "thread-messages" && stick)) { scrollDown(document); }
    if (target.id === "thread-pane") {
      const text = document.querySelector("[data-testid=reply-text]");
      if (text && !text.disabled) { text.focus(); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () { scrollDown(document); });
})();
// The row of the conversation opened (by htmx, without reloading the list) is the highlighted one.
document.addEventListener("click", function (event) {
  const row = event.target.closest(".inbox-row");
  if (!row) { return; }
  document.querySelectorAll(".inbox-row.active").forEach(function (other) { other.classList.remove("active"); });
  row.classList.add("active");
});
