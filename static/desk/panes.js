/**
 * Which of the desk's three panes show at the window's width.
 *
 * - wide (1280 px and up): list, conversation and details side by side;
 * - medium (721–1279 px): list and conversation; the details panel opens over the conversation
 *   from a toggle in its header (#details-toggle, aria-expanded);
 * - narrow (720 px and less, phones): one pane at a time, list → conversation → details, with back
 *   buttons; the list keeps its scroll position across the trip.
 *
 * The state lives on #desk as `data-pane` (list | conversation | details) and the class `details-open`;
 * desk.css does the rest. The app's height follows the visual viewport, so the composer stays above an
 * on-screen keyboard.
 */

const NARROW = "(max-width: 720px)";
const MEDIUM = "(min-width: 721px) and (max-width: 1279px)";

export class Panes {
  constructor({ desk, list, toggle, back, detailsBack, detailsClose }) {
    this.desk = desk;
    this.list = list; // the scrolling conversation list
    this.toggle = toggle;
    this.pane = "list";
    this.detailsOpen = false;
    this.listScroll = 0;
    this.narrowQuery = window.matchMedia(NARROW);
    this.mediumQuery = window.matchMedia(MEDIUM);
    for (const query of [this.narrowQuery, this.mediumQuery]) query.addEventListener("change", () => this.render());
    toggle.addEventListener("click", () => this.toggleDetails());
    back.addEventListener("click", () => this.showList());
    detailsBack.addEventListener("click", () => this.closeDetails());
    detailsClose.addEventListener("click", () => this.closeDetails());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.detailsShown() && !this.wide() && this.desk.querySelector("#details-pane")?.contains(document.activeElement)) {
        this.closeDetails();
      }
    });
    // At medium widths the panel opens under the conversation's header, whose toggle stays in reach.
    this.head = desk.querySelector(".conv-head");
    if (this.head && "ResizeObserver" in window) new ResizeObserver(() => this.placeDetails()).observe(this.head);
    followVisualViewport();
    this.render();
  }

  narrow() { return this.narrowQuery.matches; }

  medium() { return this.mediumQuery.matches; }

  wide() { return !this.narrow() && !this.medium(); }

  /** Is the details panel on screen (always at wide widths)? */
  detailsShown() {
    if (this.narrow()) return this.pane === "details";
    if (this.medium()) return this.detailsOpen;
    return true;
  }

  /** A conversation was picked: on a phone, the conversation replaces the list. */
  showConversation() {
    if (this.pane === "list") this.listScroll = this.list.scrollTop;
    this.pane = "conversation";
    this.render();
  }

  /** Back to the list (a phone's back button; or no conversation is open any more). */
  showList() {
    const from = this.pane;
    this.pane = "list";
    this.detailsOpen = false;
    this.render();
    if (from !== "list") this.list.scrollTop = this.listScroll;
  }

  toggleDetails() {
    if (this.narrow()) {
      if (this.pane === "list") this.listScroll = this.list.scrollTop;
      this.pane = this.pane === "details" ? "conversation" : "details";
    } else {
      this.detailsOpen = !this.detailsOpen;
    }
    this.render();
    if (this.detailsShown()) this.desk.querySelector("#details-pane")?.focus({ preventScroll: true });
  }

  closeDetails() {
    if (this.pane === "details") this.pane = "conversation";
    this.detailsOpen = false;
    this.render();
    this.toggle.focus({ preventScroll: true });
  }

  render() {
    this.desk.dataset.pane = this.pane;
    this.desk.classList.toggle("details-open", this.detailsOpen);
    this.toggle.setAttribute("aria-expanded", this.detailsShown() ? "true" : "false");
    this.placeDetails();
  }

  placeDetails() {
    if (!this.head || !this.detailsOpen || !this.medium()) return;
    const top = this.head.getBoundingClientRect().bottom - this.desk.getBoundingClientRect().top;
    this.desk.style.setProperty("--details-top", `${Math.max(0, Math.round(top))}px`);
  }
}

/** --app-height: the visible part of the window (it shrinks when a phone's keyboard opens). */
function followVisualViewport() {
  const viewport = window.visualViewport;
  if (!viewport) return;
  const root = document.documentElement;
  const apply = () => {
    root.style.setProperty("--app-height", `${Math.round(viewport.height)}px`);
    // iOS scrolls the page to show the focused field; the app is already sized to what is visible.
    if (viewport.offsetTop > 0 && window.scrollY !== 0) window.scrollTo(0, 0);
  };
  viewport.addEventListener("resize", apply);
  viewport.addEventListener("scroll", apply);
  apply();
}
