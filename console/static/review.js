/* 審核佇列's keyboard shortcuts and the bulk selection (no inline script: the console's CSP).
   Queue: j / k move the current row, x ticks it, o or Enter opens it; the header box ticks the
   page and the legend counts the ticked rows. One upload: a approves, r goes to the reject
   reason, c to the correction, j / k the next / previous upload, u back to the queue.
   Keys typed into a field, or with Ctrl / Alt / Meta, are left alone. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-upload]"));
  var current = -1;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("current", i === current); });
    var link = rows[current].querySelector("a.open");
    if (link) link.focus();
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) link.click();
  }

  var countLabel = document.getElementById("selected-count");
  function countTicked() {
    if (!countLabel) return;
    var n = document.querySelectorAll("#queue tbody input[name=upload]:checked").length;
    countLabel.textContent = n ? "：已勾選 " + n + " 筆" : "";
  }

  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#queue tbody input[name=upload]").forEach(function (box) { box.checked = all.checked; });
      countTicked();
    });
  }
  document.querySelectorAll("#queue tbody input[name=upload]").forEach(function (box) {
    box.addEventListener("change", countTicked);
  });
  countTicked();

  var onQueue = rows.length > 0;
  var onUpload = !!document.getElementById("decisions");

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var key = event.key;
    if (onQueue) {
      if (key === "j") { select(current + 1); event.preventDefault(); }
      else if (key === "k") { select(current < 0 ? 0 : current - 1); event.preventDefault(); }
      else if (key === "x" && current >= 0) {
        var box = rows[current].querySelector("input[name=upload]");
        if (box) { box.checked = !box.checked; countTicked(); }
        event.preventDefault();
      } else if (key === "o" && current >= 0) {  // Enter follows the focused row's link by itself
        var open = rows[current].querySelector("a.open");
        if (open) { open.click(); event.preventDefault(); }
      }
      return;
    }
    if (!onUpload) return;
    if (key === "a") {
      var approve = document.getElementById("approve");
      if (approve && !approve.disabled) { event.preventDefault(); approve.form.requestSubmit(approve); }
    } else if (key === "r") {
      var reason = document.getElementById("reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    } else if (key === "c") {
      var first = document.querySelector("#correct-form input:not([type=hidden])");
      if (first) { event.preventDefault(); first.focus(); }
    } else if (key === "j") { event.preventDefault(); follow("next"); }
    else if (key === "k") { event.preventDefault(); follow("prev"); }
    else if (key === "u") { event.preventDefault(); follow("back"); }
  });
})();
