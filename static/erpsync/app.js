// Small behaviours that htmx attributes cannot express under our CSP (no eval, no inline JS).
(function () {
  "use strict";

  // Inline rename: Escape cancels, through the editor's own Cancel button (an hx-get).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var form = event.target.closest && event.target.closest("form[data-inline-edit]");
    var cancel = form && form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  // Put the cursor in a freshly swapped-in inline editor.
  document.addEventListener("htmx:afterSwap", function (event) {
    var input = event.detail.target.querySelector("[data-autofocus]");
    if (input) {
      input.focus();
      input.select();
    }
  });

  // Confirm before a destructive or irreversible action.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
