// Canned-reply picker (templates/tickets/_canned_reply_picker.html): clicking a reply inserts its
// filled-in text into the target textarea at the cursor and closes the picker.
(function () {
  "use strict";
  if (window.cannedRepliesReady) { return; }
  window.cannedRepliesReady = true;
  document.addEventListener("click", function (event) {
    const option = event.target.closest("[data-canned-text]");
    if (!option) { return; }
    const box = document.getElementById(option.dataset.cannedTarget);
    if (!box) { return; }
    const text = option.dataset.cannedText;
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    const picker = option.closest("details");
    if (picker) { picker.open = false; }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("details.canned-picker input")) {
      event.preventDefault();  // Enter in the search box must not submit the reply form around it
      return;
    }
    if (event.key === "Escape") {
      const picker = event.target.closest && event.target.closest("details.canned-picker");
      if (picker) { picker.open = false; picker.querySelector("summary").focus(); }
    }
  });
})();
