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

  // Keyboard rename: Enter or F2 on a focused name cell opens its editor (the cell's htmx
  // trigger listens for "rename-request"; htmx trigger filters would need eval).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== "F2") return;
    var cell = event.target.closest && event.target.closest("[data-rename-cell]");
    if (cell && event.target === cell) {
      event.preventDefault();
      cell.dispatchEvent(new CustomEvent("rename-request", { bubbles: true }));
    }
  });

  // Put the cursor in a freshly swapped-in inline editor (htmx:load fires on new content;
  // after an outerHTML swap the old target is gone from the page).
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    var input = elt.matches("[data-autofocus]") ? elt : elt.querySelector("[data-autofocus]");
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

// Reject dialogs: a button names the <dialog> it opens; Cancel closes the one it is in.
document.addEventListener("click", function (event) {
  var opener = event.target.closest && event.target.closest("[data-open-dialog]");
  if (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
    if (dialog && !dialog.open) dialog.showModal();
    var box = dialog && dialog.querySelector("textarea");
    if (box) box.focus();
    return;
  }
  var closer = event.target.closest && event.target.closest("[data-close-dialog]");
  if (closer) {
    var open = closer.closest("dialog");
    if (open) open.close();
  }
});
