/* The LIFF pages: the endpoint page routes; the manual and carrier forms validate through
   /liff/api/validate (the server's rules are the only rules), submit with the LIFF ID token,
   send the returned text as the user and close. The appeal form (回報問題) shows the upload,
   counts the note's characters and sends it. No cookies, no storage. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var query = new URLSearchParams(location.search);
  var liffId = query.get("liffId") || body.getAttribute("data-liff-id") || "";
  var campaign = query.get("campaign") || "";
  var upload = query.get("upload") || "";
  var appeal = page === "appeal";
  var notice = document.getElementById("notice");
  var form = document.getElementById("entry");
  var touched = {};
  var busy = false;
  var round = 0;  // a newer validation or a submission makes older validation answers stale

  function say(text, kind) {
    notice.textContent = text;
    notice.className = kind || "";
  }

  function route() {
    var state = query.get("liff.state") || "";
    var target = null;
    if (state) {
      target = new URL("/liff/" + state.replace(/^\/+/, ""), location.origin);
    } else if (query.get("page")) {
      target = new URL("/liff/" + query.get("page") + "?campaign=" + encodeURIComponent(campaign), location.origin);
    }
    if (!target || !/^\/liff\/(manual|carrier|appeal)$/.test(target.pathname)) {
      say("很抱歉，此活動已不存在", "problem");
      return;
    }
    if (liffId) target.searchParams.set("liffId", liffId);
    if (query.get("sandbox_user")) target.searchParams.set("sandbox_user", query.get("sandbox_user"));
    location.replace(target.pathname + target.search);
  }

  function api(path, payload) {
    var token = "";
    try { token = liff.getIDToken() || ""; } catch (e) { token = ""; }
    var data = Object.assign({ liff_id: liffId, campaign: campaign }, payload || {});
    return fetch("/liff/api/" + path, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(data)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        return { status: res.status, data: json };
      });
    }, function () {
      return { status: 0, data: { message: "網路連線失敗，請稍後再試" } };
    });
  }

  function fields() {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.matches(":disabled")) return;  // a phone already given (block disabled) is not sent
      out[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    return out;
  }

  function showErrors(errors, all) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      var slot = document.getElementById(el.name + "-error");
      var message = (all || touched[el.name]) ? (errors[el.name] || "") : "";
      if (slot) slot.textContent = message;
      el.setAttribute("aria-invalid", message ? "true" : "false");
    });
  }

  function refused(result) {
    var message = (result.data && result.data.message) || "發票登錄失敗，請稍後再試";
    say(message, "problem");
    if ([404, 409, 410].indexOf(result.status) >= 0) form.hidden = true;
  }

  function validate() {
    var mine = ++round;
    api("validate", { form: page, fields: fields() }).then(function (result) {
      if (mine === round && !busy && result.status === 200) showErrors(result.data.errors || {}, false);
    });
  }

  function finish(texts) {
    var send = Promise.resolve(false);
    if (texts.length && liff.isInClient()) {
      send = liff.sendMessages(texts.map(function (t) { return { type: "text", text: t }; }))
        .then(function () { return true; }, function () { return false; });
    }
    return send.then(function (sent) {
      body.setAttribute("data-sent", sent ? "yes" : "no");
      return sent;
    });
  }

  function close() {
    try { liff.closeWindow(); } catch (e) { /* an external browser: the page stays */ }
  }

  function submit(event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    round++;
    var button = document.getElementById("submit");
    button.disabled = true;
    say("處理中…", "");
    var sent = appeal ? api("appeal", { upload: upload, note: document.getElementById("note").value })
      : api(page, { fields: fields() });
    sent.then(function (result) {
      busy = false;
      button.disabled = false;
      if (result.status === 422) {
        showErrors((result.data && result.data.errors) || {}, true);
        say(result.data.message || "請修正標示的欄位", "problem");
        var wrong = form.querySelector("[aria-invalid=true]");
        if (wrong) wrong.focus();
        return;
      }
      if (result.status !== 200) { refused(result); return; }
      showErrors({}, true);
      var texts = result.data.texts || [];
      form.hidden = true;
      if (appeal) {
        body.setAttribute("data-state", "done");
        var done = document.getElementById("close");
        done.hidden = false;
        done.addEventListener("click", close);
        say("已收到您的回報，審核人員會盡快處理，結果會傳送到聊天室。", "done");
        done.focus();
        return;
      }
      if (page === "carrier") {
        var counts = result.data.counts || {};
        ["found", "new", "waiting", "duplicates", "not_eligible", "cap_reached"].forEach(function (k) {
          document.getElementById("count-" + k).textContent = (counts[k] || 0) + " 張";
        });
        document.getElementById("counts").hidden = false;
        var closer = document.getElementById("close");
        closer.hidden = false;
        closer.addEventListener("click", close);
        say("查詢完成，登錄結果會傳送到聊天室。" +
            (counts.waiting ? "等待驗證的發票會於 3 天內持續驗證。" : "") +
            "之後載具上新增的發票，請再次匯入。", "done");
        finish(texts).then(function () { if (texts.length) setTimeout(close, 5000); });
        closer.focus();
        return;
      }
      say("發票已送出，驗證結果會傳送到聊天室。", "done");
      finish(texts).then(close);
    });
  }

  function readyAppeal(info) {
    document.getElementById("campaign-name").textContent = info.name || "";
    document.getElementById("upload-number").textContent = info.invoice_number || "";
    document.getElementById("upload-result").textContent = info.result || "";
    document.getElementById("upload").hidden = false;
    var why = document.getElementById("upload-reason");
    if (info.reason) { why.textContent = "原因：" + info.reason; why.hidden = false; }
    if (info.appealed) {
      body.setAttribute("data-state", "done");
      say("這筆發票已經回報過問題，請等候審核結果。", "done");
      return;
    }
    var note = document.getElementById("note");
    var max = Number(info.note_max) || 500;
    note.maxLength = max;
    document.getElementById("note-max").textContent = String(max);
    note.addEventListener("input", function () {
      document.getElementById("note-count").textContent = String(note.value.length);
    });
    say("", "");
    form.hidden = false;
    form.addEventListener("submit", submit);
    note.focus();
  }

  function ready(info) {
    if (appeal) { readyAppeal(info); return; }
    document.getElementById("campaign-name").textContent = info.name || "";
    var rules = document.getElementById("rules-link");
    if (rules && /^https?:\/\//.test(info.rules_url || "")) rules.href = info.rules_url;
    var date = document.getElementById("date");
    if (date && info.issue_dates) {  // the picker offers the campaign's window up to today
      date.min = info.issue_dates.min;
      date.max = info.issue_dates.max;
    }
    var phone = document.getElementById("phone-block");
    if (phone && info.phone_given) {  // given with consent for this campaign: not asked again
      phone.disabled = true;
      phone.hidden = true;
      document.getElementById("phone-kept").hidden = false;
    }
    var demo = document.getElementById("demo");
    if (demo && info.demo_carrier) {
      demo.textContent = "沙盒示範載具：" + info.demo_carrier.carrier_barcode + "，驗證碼 " + info.demo_carrier.verification_code;
      demo.hidden = false;
    }
    say("", "");
    form.hidden = false;
    form.addEventListener("submit", submit);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      el.addEventListener("change", function () { touched[el.name] = true; validate(); });
    });
    var first = form.querySelector("input");
    if (first) first.focus();
  }

  function load() {
    (appeal ? api("appeal/upload", { upload: upload }) : api("campaign")).then(function (result) {
      if (result.status === 200) { ready(result.data); return; }
      refused(result);
      finish((result.data && result.data.texts) || []);  // 活動尚未開始 / 活動不存在 in the chat too
      var wait = Number(result.data && result.data.retry_after) || 0;
      if ((result.status === 503 || result.status === 429) && wait > 0) {
        setTimeout(load, Math.min(Math.ceil(wait), 300) * 1000);  // LINE or we asked to wait: try again then
      }
    });
  }

  function start() {
    if (!window.liff) { say("無法載入 LINE LIFF，請從 LINE 重新開啟此頁", "problem"); return; }
    liff.init({ liffId: liffId }).then(function () {
      if (page === "index") { route(); return; }
      if (!liff.isLoggedIn()) { liff.login({ redirectUri: location.href }); return; }
      load();
    }, function () {
      say("LINE 登入初始化失敗，請從 LINE 重新開啟此頁", "problem");
    });
  }

  start();
})();
