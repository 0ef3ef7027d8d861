// The sandbox chat page: acts as a LINE user through /sandbox/api/… and draws the bot's replies
// and pushes that the LINE simulator recorded (/sandbox/line/_sim/messages), polled every second.
// Plain browser JavaScript, no build step. Every text from the server goes in with textContent.
"use strict";
(function () {
  const API = "/sandbox/api";
  const MESSAGES = "/sandbox/line/_sim/messages";
  const CAMERA_URI = "https://line.me/R/nv/camera/";
  const LIFF_SOON = "LIFF 頁面即將推出";
  const MAX_PHOTO = 10 * 1024 * 1024;
  const USERS_KEY = "sandbox.users";
  const CURRENT_KEY = "sandbox.currentUser";
  const NAMES = ["小明", "小美", "阿華", "大雄", "靜香", "小夫"];

  const body = document.body;
  const chat = document.getElementById("chat");
  const statusLine = document.getElementById("status");
  const select = document.getElementById("user-select");
  const userIdLine = document.getElementById("user-id");
  const fileInput = document.getElementById("file-input");
  const textInput = document.getElementById("text");
  const liffProbe = new Map(); // path → Promise<boolean> (does the page exist?)
  let lastSignature = "";
  let firstDraw = true;

  // --- users ----------------------------------------------------------------------------

  function newUserId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "U" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function loadUsers() {
    try {
      const users = JSON.parse(localStorage.getItem(USERS_KEY) || "[]");
      if (Array.isArray(users) && users.every((u) => u && /^U[0-9a-f]{32}$/.test(u.id) && typeof u.name === "string")) {
        if (users.length) return users;
      }
    } catch (_e) { /* start over below */ }
    const fresh = NAMES.slice(0, 3).map((name) => ({ id: newUserId(), name }));
    localStorage.setItem(USERS_KEY, JSON.stringify(fresh));
    return fresh;
  }

  let users = loadUsers();

  // ?user=U… opens the chat as that LINE user (e.g. one seen in admin-cli or the logs).
  const asked = new URLSearchParams(location.search).get("user");
  if (asked && /^U[0-9a-f]{32}$/.test(asked)) {
    if (!users.some((u) => u.id === asked)) {
      users = [...users, { id: asked, name: "使用者 " + asked.slice(-4) }];
      localStorage.setItem(USERS_KEY, JSON.stringify(users));
    }
    localStorage.setItem(CURRENT_KEY, asked);
  }

  function currentUser() {
    const id = localStorage.getItem(CURRENT_KEY);
    return users.find((u) => u.id === id) || users[0];
  }

  function drawUsers() {
    select.replaceChildren();
    const current = currentUser();
    for (const user of users) {
      const option = new Option(user.name, user.id, false, user.id === current.id);
      select.append(option);
    }
    userIdLine.textContent = current.id;
  }

  select.addEventListener("change", () => {
    localStorage.setItem(CURRENT_KEY, select.value);
    drawUsers();
    lastSignature = "";
    firstDraw = true;
    poll();
  });

  document.getElementById("user-add").addEventListener("click", () => {
    const name = NAMES[users.length % NAMES.length] + (users.length >= NAMES.length ? " " + (users.length + 1) : "");
    const user = { id: newUserId(), name };
    users = [...users, user];
    localStorage.setItem(USERS_KEY, JSON.stringify(users));
    localStorage.setItem(CURRENT_KEY, user.id);
    drawUsers();
    lastSignature = "";
    firstDraw = true;
    poll();
  });

  // --- talking to the service --------------------------------------------------------------

  function say(message, isError) {
    statusLine.textContent = message || "";
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function busy(on) {
    for (const button of document.querySelectorAll(".quick button, .composer button")) button.disabled = on;
  }

  async function call(path, options) {
    busy(true);
    try {
      const response = await fetch(API + path, options);
      let data = {};
      try { data = await response.json(); } catch (_e) { /* not JSON */ }
      if (!response.ok) {
        say("失敗：" + (data.error || "HTTP " + response.status), true);
        return null;
      }
      return data;
    } catch (error) {
      say("無法連線到服務：" + error, true);
      return null;
    } finally {
      busy(false);
      poll();
    }
  }

  function postJson(path, payload) {
    return call(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
  }

  async function sendText(text) {
    if (!text.trim()) return;
    const result = await postJson("/say", { user: currentUser().id, name: currentUser().name, text });
    if (result) say("");
  }

  async function sendPostback(data) {
    const result = await postJson("/postback", { user: currentUser().id, name: currentUser().name, data });
    if (result) say("");
  }

  async function sendSample(pending) {
    say(pending ? "產生範例發票中（財政部模擬器稍後才會有資料）…" : "產生範例發票中…");
    const result = await postJson("/sample-photo", { user: currentUser().id, name: currentUser().name, pending });
    if (!result) return;
    const number = result.invoice_number.slice(0, 2) + "-" + result.invoice_number.slice(2);
    if (result.available_at) {
      const at = new Date(result.available_at).toLocaleTimeString("zh-TW", { hour: "2-digit", minute: "2-digit" });
      say(`已送出範例發票 ${number}（NT$ ${result.total_amount}）；財政部模擬器 ${at} 才有資料，之後的重試會推播結果。`);
    } else {
      say(`已送出範例發票 ${number}（NT$ ${result.total_amount}），財政部模擬器已有此發票。`);
    }
  }

  async function sendFile(file) {
    if (!file) return;
    if (file.size > MAX_PHOTO) { say("照片不可超過 10 MB", true); return; }
    const form = new FormData();
    form.append("user", currentUser().id);
    form.append("name", currentUser().name);
    form.append("file", file, file.name || "photo");
    say("上傳照片中…");
    const result = await call("/photo", { method: "POST", body: form });
    if (result) say("");
  }

  document.querySelector(".quick").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "keyword") sendText(body.dataset.keyword);
    else if (action === "richmenu") sendPostback(body.dataset.postback);
    else if (action === "sample") sendSample(false);
    else if (action === "sample-pending") sendSample(true);
    else if (action === "file") fileInput.click();
  });

  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    sendFile(file);
  });

  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textInput.value;
    textInput.value = "";
    sendText(text);
  });

  // --- drawing ------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    try {
      const url = new URL(String(value), location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch (_e) {
      return null;
    }
  }

  function timeOf(at) {
    const when = new Date(at);
    return isNaN(when) ? "" : when.toLocaleTimeString("zh-TW", { hour: "2-digit", minute: "2-digit" });
  }

  function liffAvailable(url) {
    const path = url.pathname;
    if (!liffProbe.has(path)) {
      liffProbe.set(path, fetch(path, { method: "GET" }).then((r) => r.ok, () => false));
    }
    return liffProbe.get(path);
  }

  function renderAction(action, label, style) {
    const text = label || (action && action.label) || "";
    const classes = "flex-action " + (style || "");
    if (!action || typeof action !== "object") return el("span", classes, text);
    if (action.type === "uri") {
      if (action.uri === CAMERA_URI) {
        const button = el("button", classes, text);
        button.type = "button";
        button.title = "開啟相機（這裡：選擇照片）";
        button.addEventListener("click", () => fileInput.click());
        return button;
      }
      const url = safeUrl(action.uri);
      const link = el("a", classes, text);
      if (!url) { link.setAttribute("aria-disabled", "true"); return link; }
      if (url.pathname.startsWith("/liff/")) {
        link.setAttribute("aria-disabled", "true");
        link.title = LIFF_SOON;
        liffAvailable(url).then((ok) => {
          if (!ok) return;
          link.removeAttribute("aria-disabled");
          link.removeAttribute("title");
          link.href = url.href;
          link.target = "_blank";
          link.rel = "noopener";
        });
        return link;
      }
      link.href = url.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    if (action.type === "postback" || action.type === "message") {
      const button = el("button", classes, text);
      button.type = "button";
      button.addEventListener("click", () => {
        if (action.type === "message") sendText(String(action.text || ""));
        else sendPostback(String(action.data || ""));
      });
      return button;
    }
    const other = el("span", classes, text);
    other.setAttribute("aria-disabled", "true");
    return other;
  }

  function renderFlex(node) {
    if (!node || typeof node !== "object") return el("span");
    switch (node.type) {
      case "carousel": {
        const box = el("div", "flex-carousel");
        for (const bubble of node.contents || []) box.append(renderFlex(bubble));
        return box;
      }
      case "bubble": {
        const bubble = el("div", "flex-bubble");
        for (const part of ["header", "hero", "body", "footer"]) {
          if (!node[part]) continue;
          const section = el("div", "flex-section " + part);
          section.append(renderFlex(node[part]));
          bubble.append(section);
        }
        return bubble;
      }
      case "box": {
        const box = el("div", "flex-box " + (node.layout || "vertical"));
        for (const child of node.contents || []) box.append(renderFlex(child));
        return box;
      }
      case "text": {
        const spans = Array.isArray(node.contents) ? node.contents.map((s) => (s && s.text) || "").join("") : "";
        const text = el("div", "flex-text", spans || node.text || "");
        if (node.weight === "bold") text.classList.add("bold");
        if (node.size) text.classList.add("size-" + node.size);
        if (node.action) { const wrap = renderAction(node.action, text.textContent, "link"); return wrap; }
        return text;
      }
      case "image": {
        const url = safeUrl(node.url);
        const image = el("img", "flex-image");
        image.alt = "";
        if (url) image.src = url.href;
        return image;
      }
      case "button":
        return renderAction(node.action, null, node.style || "secondary");
      case "separator":
        return el("hr", "flex-separator");
      case "spacer":
      case "filler":
        return el("div", "flex-spacer");
      default:
        return el("span");
    }
  }

  function renderBotMessage(message) {
    if (message.type === "text") return el("div", "bubble", message.text);
    if (message.type === "flex") {
      const flex = renderFlex(message.contents);
      flex.title = message.altText || "";
      return flex;
    }
    if (message.type === "image") {
      const wrap = el("div", "bubble photo");
      const url = safeUrl(message.previewImageUrl || message.originalContentUrl);
      const image = el("img");
      image.alt = "";
      if (url) image.src = url.href;
      wrap.append(image);
      return wrap;
    }
    return el("div", "bubble unknown", `[${message.type}] ${message.altText || ""}`);
  }

  function renderUserEntry(entry) {
    if (entry.kind === "text") return el("div", "bubble", entry.text);
    if (entry.kind === "postback") return el("div", "bubble postback", "（postback）" + entry.data);
    const wrap = el("div", "bubble photo");
    const url = safeUrl(entry.photo_url);
    const image = el("img");
    image.alt = "上傳的照片";
    if (url) image.src = url.href;
    wrap.append(image);
    if (entry.sample) {
      const s = entry.sample;
      const number = s.invoice_number.slice(0, 2) + "-" + s.invoice_number.slice(2);
      wrap.append(el("div", "caption", `範例發票 ${number} · ${s.date} · NT$ ${s.total_amount}` +
        (s.pending ? " · 財政部尚未上傳" : "")));
    }
    return wrap;
  }

  function row(side, parts, metaParts) {
    const line = el("div", "row " + side);
    if (side === "bot") line.append(el("span", "avatar bot-avatar", "發"));
    const stack = el("div", "stack");
    for (const part of parts) stack.append(part);
    line.append(stack);
    const meta = el("div", "meta");
    for (const part of metaParts) meta.append(part);
    line.append(meta);
    return line;
  }

  function draw(items) {
    const atBottom = firstDraw || window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
    firstDraw = false;
    chat.replaceChildren();
    if (!items.length) {
      chat.append(el("p", "chat-empty", "點下方「登錄發票」開始：機器人會送出發票卡片，30 分鐘內上傳發票照片即可登錄。"));
      return;
    }
    for (const item of items) {
      if (item.side === "user") {
        chat.append(row("user", [renderUserEntry(item.entry)], [el("span", "", timeOf(item.at))]));
      } else {
        const record = item.record;
        const kind = el("span", "kind " + record.kind, record.kind === "reply" ? "reply 免費" : "push 計費");
        kind.title = record.kind === "reply" ? "以 reply token 回覆：不計費" : "主動推播：計費";
        const parts = (record.messages || []).map(renderBotMessage);
        chat.append(row("bot", parts, [kind, el("span", "", timeOf(record.at))]));
      }
    }
    if (atBottom) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // --- polling ------------------------------------------------------------------------------

  let polling = false;

  async function poll() {
    if (polling) return;
    polling = true;
    const user = currentUser().id;
    try {
      const [sent, said] = await Promise.all([
        fetch(MESSAGES, { cache: "no-store" }).then((r) => (r.ok ? r.json() : [])),
        fetch(`${API}/said?user=${encodeURIComponent(user)}`, { cache: "no-store" }).then((r) => (r.ok ? r.json() : { entries: [] })),
      ]);
      if (user !== currentUser().id) return;
      const items = [
        ...(said.entries || []).map((entry) => ({ side: "user", at: entry.at, entry })),
        ...sent.filter((record) => record.to === user).map((record) => ({ side: "bot", at: record.at, record })),
      ];
      items.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.side === "user" ? -1 : 1));
      const signature = user + "|" + items.length + "|" + (items.length ? items[items.length - 1].at : "");
      if (signature !== lastSignature) {
        lastSignature = signature;
        draw(items);
      }
    } catch (_error) {
      // the service may be restarting: keep polling
    } finally {
      polling = false;
    }
  }

  drawUsers();
  poll();
  setInterval(poll, 1000);
})();
