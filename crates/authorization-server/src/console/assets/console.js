// s2s console: progressive enhancement only. Every page reads and every form posts
// without this script; it adds an "unsaved" hint to the scope checkboxes, selects a
// secret shown once, and keeps the token activity page current.
"use strict";

// Scope checkboxes: say when the boxes differ from what is saved (no automatic submit,
// so that toggling a box with the keyboard never reloads the page under the reader).
for (const form of document.querySelectorAll("form.scopes")) {
  const boxes = Array.from(form.querySelectorAll("input[type=checkbox]"));
  const saved = boxes.map((box) => box.checked);
  const hint = document.createElement("span");
  hint.className = "unsaved";
  hint.setAttribute("aria-live", "polite");
  form.querySelector("button[type=submit]").after(hint);
  form.addEventListener("change", () => {
    const changed = boxes.some((box, i) => box.checked !== saved[i]);
    hint.textContent = changed ? "Unsaved changes" : "";
  });
}

// A secret shown once: selected, ready to copy.
const secret = document.getElementById("new-secret");
if (secret) {
  secret.focus();
  secret.select();
}

// Token activity: refresh the chart and the table every 10 seconds, in place.
const events = document.getElementById("events");
if (events) {
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const selector of ["figure.chart", "#events"]) {
        const now = document.querySelector(selector);
        const next = fresh.querySelector(selector);
        if (now && next) now.replaceWith(next);
      }
    } catch (_) {
      // Offline or signed out: keep what is shown.
    }
  }, 10000);
}
