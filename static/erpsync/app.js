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

  // A table wider than its card scrolls inside it: mark the card so that it says so.
  function markScrollingTables() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      wrap.classList.toggle("scrolls", wrap.scrollWidth > wrap.clientWidth + 1);
    });
  }
  document.addEventListener("DOMContentLoaded", markScrollingTables);
  document.addEventListener("htmx:afterSettle", markScrollingTables);
  window.addEventListener("resize", markScrollingTables);

  // Copy a value to the clipboard (the API token shown once): the button names its input.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    function copied() { button.textContent = "Copied"; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(copied, function () {
        button.textContent = "Select and copy it";
      });
    } else {
      // Plain HTTP (the demo): the clipboard API is not offered; the text is selected instead.
      button.textContent = document.execCommand && document.execCommand("copy")
        ? "Copied" : "Selected: press Ctrl+C";
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

// A dialog the server sends back open (a refused reject: its reason's error is inside) is
// opened as a modal, with its backdrop, as the user left it; the `open` attribute alone would
// show it without one. Runs for the first page and for every htmx swap.
(function () {
  "use strict";

  function showPending(root) {
    if (!root || !root.querySelectorAll) return;
    var dialogs = Array.prototype.slice.call(root.querySelectorAll("dialog[data-show-modal]"));
    if (root.matches && root.matches("dialog[data-show-modal]")) dialogs.unshift(root);
    dialogs.forEach(function (dialog) {
      dialog.removeAttribute("data-show-modal");
      if (!dialog.open && dialog.isConnected) dialog.showModal();
      var box = dialog.querySelector("textarea");
      if (box) box.focus();
    });
  }

  // "Select all rows on this page": the header checkbox of the bulk form's rows; it shows
  // mixed when only some are selected.
  function rowBoxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type=checkbox][name=selected][form="bulk-form"]')
    );
  }

  function syncSelectAll() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    var boxes = rowBoxes();
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = boxes.length > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) return;
    if (target.matches("[data-select-all]")) {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
    } else if (target.matches('input[name=selected][form="bulk-form"]')) {
      syncSelectAll();
    }
  });

  document.addEventListener("htmx:load", function (event) {
    showPending(event.detail.elt);
    syncSelectAll();
  });
  function onReady() {
    showPending(document);
    syncSelectAll();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onReady);
  else onReady();
})();

// A (?) tooltip inside a table that scrolls sideways would be cut off at the table's edge:
// while it shows, it is placed in the window itself, below its (?) (above when there is no
// room), never past the window's sides. CSSOM writes are allowed under the page's CSP.
(function () {
  "use strict";

  var MARGIN = 8;

  function place(why) {
    var tip = why.querySelector(".tooltip");
    if (!tip || !why.closest(".table-wrap")) return;
    tip.classList.add("floating");
    var mark = why.getBoundingClientRect();
    var width = tip.offsetWidth, height = tip.offsetHeight;
    var left = Math.min(mark.left, window.innerWidth - width - MARGIN);
    var top = mark.bottom + 4;
    if (top + height > window.innerHeight - MARGIN && mark.top - height - 4 > MARGIN) {
      top = mark.top - height - 4;
    }
    tip.style.left = Math.max(MARGIN, left) + "px";
    tip.style.top = top + "px";
  }

  function from(event) {
    var why = event.target.closest && event.target.closest(".why");
    if (why) place(why);
  }

  document.addEventListener("mouseover", from);
  document.addEventListener("focusin", from);
  window.addEventListener("scroll", function () {
    document.querySelectorAll(".why:hover, .why:focus, .why:focus-within").forEach(place);
  }, true);
})();
