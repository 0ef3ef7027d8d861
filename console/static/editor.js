// The campaign editor's dynamic rows: add an item block, a tier or a keyword by cloning a
// <template> (its "__N__" becomes the row's index). Without JavaScript the rows on the page submit as they are.
(function () {
  "use strict";
  var form = document.querySelector("form.editor");
  if (!form) { return; }
  document.documentElement.classList.add("js");

  function nextIndex(container) {
    return container.querySelectorAll("[data-row]").length;
  }
  function cloneTemplate(id, index) {
    var html = document.getElementById(id).innerHTML.split("__N__").join(String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    return holder;
  }
  function append(container, holder) {
    var first = null;
    while (holder.firstChild) {
      var node = holder.firstChild;
      container.appendChild(node);
      if (!first && node.nodeType === 1) { first = node; }
    }
    var input = first && first.querySelector("input, select");
    if (input) { input.focus(); }
  }
  function relabel(container, prefix, offset) {
    container.querySelectorAll(":scope > [data-row] > legend").forEach(function (legend, i) {
      legend.textContent = prefix(i + offset);
    });
  }

  var blocks = document.getElementById("blocks");
  var tiers = document.getElementById("tiers");
  var addBlock = document.getElementById("add-block");
  var addTier = document.getElementById("add-tier");

  function scopeKind() {
    var checked = form.querySelector("input[name=scope_kind]:checked");
    return checked ? checked.value : "whole_invoice";
  }
  function countMeasure() {
    if (scopeKind() === "whole_invoice") {
      var m = document.getElementById("whole_measure");
      return m && m.value === "count";
    }
    return Array.prototype.some.call(blocks.querySelectorAll("select[name$='-measure']"),
      function (s) { return s.value === "count"; });
  }
  // "新增條件" and "新增級距" are exclusive; tiers only with an amount threshold (SPEC §3).
  function refresh() {
    var items = scopeKind() === "items";
    document.getElementById("scope-whole").hidden = items;
    document.getElementById("scope-items").hidden = !items;
    var blockCount = nextIndex(blocks), tierCount = nextIndex(tiers);
    addBlock.disabled = tierCount > 0;
    addTier.disabled = countMeasure() || (items && blockCount > 1);
    var list = document.querySelector("input[name=reward_timing]:checked");
    document.getElementById("reward").hidden = list && list.value === "list_only";
  }

  if (addBlock && blocks) {
    addBlock.addEventListener("click", function () {
      append(blocks, cloneTemplate("block-template", nextIndex(blocks)));
      relabel(blocks, function (n) { return "條件區塊 " + n; }, 1);
      refresh();
    });
  }
  if (addTier && tiers) {
    addTier.addEventListener("click", function () {
      append(tiers, cloneTemplate("tier-template", nextIndex(tiers)));
      relabel(tiers, function (n) { return "更高級距 第 " + n + " 級"; }, 2);
      refresh();
    });
  }
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-keyword]");
    if (!button) { return; }
    var index = button.getAttribute("data-add-keyword");
    var box = form.querySelector("[data-keywords='" + index + "']");
    append(box, cloneTemplate("keyword-template", index));
  });
  form.addEventListener("change", refresh);
  if (blocks) { refresh(); }
})();
