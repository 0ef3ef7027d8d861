// The message editor: switch form / advanced mode, insert {variable} markers, and redraw the LINE
// preview as the marketer types (the draft goes to …/preview, debounced; LineFlex draws the answer
// exactly as the sandbox chat draws what the bot sent).
(function () {
  "use strict";
  var form = document.getElementById("message-form");
  if (!form || !window.LineFlex) { return; }
  document.documentElement.classList.add("js");
  var preview = document.getElementById("preview");
  var previewError = document.getElementById("preview-error");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var lastText = document.getElementById("body");
  var timer = null;
  var asked = 0;
  var first = true; // the first preview keeps the errors the server wrote beside the fields

  function mode() { return form.querySelector("input[name=mode]:checked").value; }
  function showMode() {
    form.classList.toggle("advanced", mode() === "advanced");
    form.classList.toggle("formmode", mode() === "form");
  }

  function showErrors(errors) {
    form.querySelectorAll(".error").forEach(function (node) {
      var field = node.id.replace(/-error$/, "");
      if (field === "line" || field === "status") { return; } // only a save tells these
      node.textContent = errors[field] || "";
    });
  }

  function draw(messages) {
    preview.replaceChildren();
    messages.forEach(function (message) {
      var row = LineFlex.el("div", "line-row");
      row.append(LineFlex.el("span", "line-avatar", "發"), LineFlex.message(message, {}));
      preview.append(row);
    });
  }

  function refresh() {
    var mine = ++asked;
    fetch(form.dataset.preview, {
      method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrf }, credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (mine !== asked) { return; }
      var wasFirst = first;
      first = false;
      if (answer.ok) {
        if (!wasFirst) { showErrors({}); }
        previewError.textContent = "";
        draw(answer.data.messages);
        if (mode() === "form" && !wasFirst) {
          document.getElementById("source").value = answer.data.source;
          document.getElementById("alt_text").value = answer.data.alt_text;
        }
      } else {
        showErrors(answer.data.errors || {});
        previewError.textContent = "預覽未更新：請看欄位旁的說明。";
      }
    }).catch(function () {
      if (mine === asked) { previewError.textContent = "預覽暫時無法更新。"; }
    });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", function (event) {
    if (event.target.name === "mode") { showMode(); }
    later();
  });
  form.querySelectorAll("[data-insertable]").forEach(function (field) {
    field.addEventListener("focus", function () { lastText = field; });
  });
  form.querySelectorAll("button[data-insert]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = mode() === "advanced" ? document.getElementById("source") : lastText;
      var marker = mode() === "advanced" ? "{{ " + button.dataset.insert.slice(1, -1) + " }}" : button.dataset.insert;
      var start = field.selectionStart === null ? field.value.length : field.selectionStart;
      var end = field.selectionEnd === null ? start : field.selectionEnd;
      field.value = field.value.slice(0, start) + marker + field.value.slice(end);
      field.focus();
      field.setSelectionRange(start + marker.length, start + marker.length);
      later();
    });
  });
  showMode();
  refresh();
})();
