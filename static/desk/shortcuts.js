/**
 * Keyboard shortcuts for the everyday actions; `?` lists them. Single keys act only when the
 * agent is not typing somewhere (the composer has its own keys: Enter, Shift+Enter, `/`, Esc).
 */

function typingIn(target) {
  return Boolean(target?.closest?.("input, textarea, select, [contenteditable='true']"));
}

/** Bind `keymap` ({key: handler}) and the help dialog. */
export function bindShortcuts(keymap, { dialog, openButton, closeButton }) {
  const openHelp = () => {
    if (!dialog.open) dialog.showModal();
  };
  openButton?.addEventListener("click", openHelp);
  closeButton?.addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (dialog.open || document.querySelector("dialog[open]")) return; // a dialog handles Esc itself
    if (typingIn(event.target)) {
      if (event.key === "Escape" && event.target.id !== "desk-composer") event.target.blur();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      openHelp();
      return;
    }
    const handler = keymap[event.key];
    if (handler) {
      event.preventDefault();
      handler(event);
    }
  });
}
