// "Copy" buttons next to read-only fields (the webhook URL).
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-copy-target]");
  if (!button) { return; }
  const field = document.querySelector(button.dataset.copyTarget);
  if (!field) { return; }
  field.select();
  const done = function () {
    const label = button.innerHTML;
    button.textContent = button.dataset.copiedLabel || "Copied";
    setTimeout(function () { button.innerHTML = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
