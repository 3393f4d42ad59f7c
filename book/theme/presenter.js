// The presenter view: press "p" (or the menu bar's "Notes" button) on any page to open a
// second window with that page's speaker notes, large, and a clock. It follows the page the
// projector shows: each page announces itself on load (a BroadcastChannel, and localStorage
// for books opened from files), and the notes window moves to the same page.
(function () {
  "use strict";
  const KEY = "sre-lab-presenter-page";
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("sre-lab-presenter") : null;
  const here = location.pathname;

  if (new URLSearchParams(location.search).has("presenter")) {
    document.documentElement.classList.add("presenter");
    const main = document.querySelector("main");
    if (!main) return;
    const view = document.createElement("div");
    view.id = "presenter-view";
    const clock = document.createElement("p");
    clock.className = "presenter-clock";
    const tick = () => {
      clock.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    };
    tick();
    setInterval(tick, 10000);
    const title = document.createElement("p");
    title.className = "presenter-page";
    const h1 = main.querySelector("h1");
    title.textContent = h1 ? h1.textContent : document.title;
    view.append(clock, title);
    const notes = [...main.querySelectorAll("details.notes")];
    if (notes.length === 0) {
      const none = document.createElement("p");
      none.className = "presenter-none";
      none.textContent = "No speaker notes on this page.";
      view.append(none);
    }
    for (const n of notes) {
      const copy = n.cloneNode(true);
      copy.open = true;
      view.append(copy);
    }
    main.prepend(view);
    const follow = (path) => {
      if (typeof path === "string" && path.startsWith("/") && path !== here) {
        location.replace(path + "?presenter");
      }
    };
    if (channel) channel.onmessage = (e) => follow(e.data && e.data.path);
    window.addEventListener("storage", (e) => {
      if (e.key === KEY && e.newValue) follow(e.newValue.split("#")[0]);
    });
    return;
  }

  const announce = () => {
    if (channel) channel.postMessage({ path: here });
    try {
      localStorage.setItem(KEY, here + "#" + Date.now());
    } catch (_) {
      /* storage may be off; the channel still works */
    }
  };
  announce();
  window.addEventListener("pageshow", announce);

  const open = () => window.open(here + "?presenter", "sre-lab-presenter", "width=900,height=700");
  document.addEventListener("keydown", (e) => {
    const typing = /^(input|textarea|select)$/i.test(e.target.tagName);
    if (e.key === "p" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) open();
  });
  const buttons = document.querySelector(".right-buttons");
  if (buttons) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "icon-button presenter-button";
    b.title = "Speaker notes in a second window (p)";
    b.setAttribute("aria-label", b.title);
    b.textContent = "Notes";
    b.addEventListener("click", open);
    buttons.prepend(b);
  }
})();
