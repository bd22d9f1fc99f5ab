/* Whistle console: countdowns, polite polling, keyboard for the triage queue.
   Progressive enhancement only: every page works without it. No inline script, no eval. */
(function () {
  "use strict";

  function span(sec) {
    sec = Math.abs(Math.round(sec));
    var d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600),
        m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + m + "分";
    if (m) return m + "分" + s + "秒";
    return s + "秒";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(at)) return;
      var left = (at - now) / 1000;
      el.textContent = (left >= 0 ? "剩余 " : "已超期 ") + span(left);
      el.classList.toggle("late", left < 0);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

  /* A polled region is not replaced while someone is working in it: focus in a field,
     something typed or chosen, or a <details> opened. */
  function busy(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, textarea, select")) return true;
    if (region.querySelector("details[open]")) return true;
    return Array.prototype.some.call(region.querySelectorAll("input, textarea, select"), function (f) {
      if (f.type === "hidden" || f.type === "submit") return false;
      if (f.tagName === "SELECT") return f.selectedIndex > 0 && !f.options[f.selectedIndex].defaultSelected;
      if (f.type === "checkbox" || f.type === "radio") return f.checked !== f.defaultChecked;
      return f.value !== f.defaultValue;
    });
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll") && busy(elt)) e.preventDefault();
  });

  /* After a one-click assignment the confirmation takes the case's place and the focus, so
     that J moves on to the next case. */
  document.addEventListener("htmx:afterSettle", function () {
    var done = document.querySelector("[data-triage][autofocus]");
    if (done) { done.removeAttribute("autofocus"); done.focus(); }
  });

  /* Triage queue from the keyboard: J/K next/previous case, 1–3 take that suggestion. */
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && t.matches && t.matches("input, textarea, select, [contenteditable]")) return;
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-triage]"));
    if (!items.length) return;
    var current = t && t.closest ? t.closest("[data-triage]") : null;
    var i = items.indexOf(current);
    var key = e.key.toLowerCase();
    if (key === "j" || key === "k") {
      i = key === "j" ? Math.min(i + 1, items.length - 1) : Math.max(i - 1, 0);
      items[i].focus();
      items[i].scrollIntoView({block: "nearest"});
      e.preventDefault();
    } else if (current && (key === "1" || key === "2" || key === "3")) {
      var button = current.querySelector('[data-suggestion="' + key + '"]');
      if (button) { button.click(); e.preventDefault(); }
    }
  });
})();
