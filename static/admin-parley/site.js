// The site page's copy button: copies the embed snippet and says so (a static file, as the admin's CSP wants).
(function () {
  "use strict";

  /** Select the node's text, so a browser without the clipboard API still lets the admin press Ctrl+C. */
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /** Copy the target's text and report the result next to the button. */
  function copy(button) {
    var target = document.getElementById(button.dataset.copyTarget);
    var status = button.parentNode.querySelector(".parley-copy-status");
    if (!target) return;
    var say = function (text) {
      if (status) status.textContent = text;
    };
    var failed = function () {
      selectText(target);
      say(button.dataset.failedText);
    };
    if (!navigator.clipboard || !window.isSecureContext) {
      failed();
      return;
    }
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      say(button.dataset.copiedText);
    }, failed);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) copy(button);
  });
})();
