// The sandbox chat page: acts as a LINE user through /sandbox/api/… and draws the bot's replies
// and pushes that the LINE simulator recorded (/sandbox/line/_sim/messages). New records arrive
// live over server-sent events (/sandbox/api/events); the page then re-reads and redraws.
// Plain browser JavaScript, no build step. Every text from the server goes in with textContent.
"use strict";
(function () {
  const { el, safeUrl } = LineFlex;
  const API = "/sandbox/api";
  const MESSAGES = "/sandbox/line/_sim/messages";
  const MAX_PHOTO = 10 * 1024 * 1024;
  const USERS_KEY = "sandbox.users"; // localStorage: the fake users, shared by every tab
  const CURRENT_KEY = "sandbox.currentUser"; // sessionStorage: this tab's user
  const PICK_KEY = "sandbox.campaign"; // sessionStorage: this tab's channel/campaign
  const TOOLS_KEY = "sandbox.tools";
  const NAMES = ["小明", "小美", "阿華", "大雄", "靜香", "小夫"];
  const STATUS_LABELS = { draft: "草稿", scheduled: "排程中", running: "進行中", paused: "暫停中", ended: "已結束" };

  const body = document.body;
  const chat = document.getElementById("chat");
  const statusLine = document.getElementById("status");
  const live = document.getElementById("live");
  const clockNow = document.getElementById("clock-now");
  const select = document.getElementById("user-select");
  const userIdLine = document.getElementById("user-id");
  const fileInput = document.getElementById("file-input");
  const textInput = document.getElementById("text");
  const campaignSelect = document.getElementById("campaign-select");
  const triggerBox = document.getElementById("triggers");
  const tools = document.getElementById("tools");
  const toolsToggle = document.getElementById("tools-toggle");
  const richmenu = document.getElementById("richmenu");
  const menubar = document.getElementById("menubar");
  const menubarText = document.getElementById("menubar-text");
  const liff = document.getElementById("liff");
  const liffFrame = document.getElementById("liff-frame");
  const liffTitle = document.getElementById("liff-title");
  let lastSignature = "";
  let channels = [];

  // --- users: the list is shared by the tabs, the current user is this tab's own ----------

  function newUserId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "U" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function readUsers() {
    try {
      const users = JSON.parse(localStorage.getItem(USERS_KEY) || "[]");
      if (Array.isArray(users) && users.length &&
          users.every((u) => u && /^U[0-9a-f]{32}$/.test(u.id) && typeof u.name === "string")) return users;
    } catch (_e) { /* start over below */ }
    return null;
  }

  function loadUsers() {
    const found = readUsers();
    if (found) return found;
    const fresh = NAMES.slice(0, 3).map((name) => ({ id: newUserId(), name }));
    localStorage.setItem(USERS_KEY, JSON.stringify(fresh));
    return fresh;
  }

  let users = loadUsers();

  function addUser(user) {
    users = [...(readUsers() || users).filter((u) => u.id !== user.id), user];
    localStorage.setItem(USERS_KEY, JSON.stringify(users));
  }

  // ?user=U… opens this tab as that LINE user (e.g. one seen in admin-cli or the logs).
  const asked = new URLSearchParams(location.search).get("user");
  if (asked && /^U[0-9a-f]{32}$/.test(asked)) {
    if (!users.some((u) => u.id === asked)) addUser({ id: asked, name: "使用者 " + asked.slice(-4) });
    sessionStorage.setItem(CURRENT_KEY, asked);
  }

  function currentUser() {
    const id = sessionStorage.getItem(CURRENT_KEY);
    const user = users.find((u) => u.id === id) || users[0];
    if (user.id !== id) sessionStorage.setItem(CURRENT_KEY, user.id);
    return user;
  }

  function drawUsers() {
    select.replaceChildren();
    const current = currentUser();
    for (const user of users) select.append(new Option(user.name, user.id, false, user.id === current.id));
    userIdLine.textContent = current.id;
  }

  function switchTo(id) {
    sessionStorage.setItem(CURRENT_KEY, id);
    drawUsers();
    lastSignature = "";
    chat.replaceChildren(); // never show one user's chat as another's, even for a moment
    refresh();
    connect();
    loadRichMenu();
  }

  select.addEventListener("change", () => switchTo(select.value));

  document.getElementById("user-add").addEventListener("click", () => {
    const count = users.length;
    const user = { id: newUserId(), name: NAMES[count % NAMES.length] + (count >= NAMES.length ? " " + (count + 1) : "") };
    addUser(user);
    switchTo(user.id);
  });

  // Another tab added a user: show it in this tab's list too (this tab's choice stays).
  window.addEventListener("storage", (event) => {
    if (event.key !== USERS_KEY) return;
    const found = readUsers();
    if (found) { users = found; drawUsers(); }
  });

  // --- the channel and campaign this tab talks to -------------------------------------------

  function picked() {
    const [channel, campaign] = (campaignSelect.value || "").split(":");
    const ch = channels.find((c) => String(c.id) === channel);
    const ca = ch && ch.campaigns.find((c) => String(c.id) === campaign);
    return { channel: ch || null, campaign: ca || null };
  }

  function channelField() {
    const { channel } = picked();
    return channel && !channel.default ? { channel: channel.id } : {};
  }

  async function loadCampaigns() {
    try {
      const response = await fetch(`${API}/campaigns`, { cache: "no-store" });
      if (!response.ok) return;
      channels = (await response.json()).channels || [];
    } catch (_e) { return; }
    const before = sessionStorage.getItem(PICK_KEY) || campaignSelect.value;
    campaignSelect.replaceChildren();
    let first = "";
    for (const channel of channels) {
      const group = document.createElement("optgroup");
      group.label = channel.default ? "預設頻道" : channel.name + (channel.reachable ? "" : "（無 channel secret，無法模擬）");
      for (const campaign of channel.campaigns) {
        const value = `${channel.id}:${campaign.id}`;
        const option = new Option(`${campaign.name}（${STATUS_LABELS[campaign.status] || campaign.status}）`, value);
        option.disabled = !channel.reachable;
        group.append(option);
        if (!first && channel.reachable && campaign.status === "running") first = value;
      }
      if (!channel.campaigns.length) {
        const none = new Option("（沒有活動）", "");
        none.disabled = true;
        group.append(none);
      }
      campaignSelect.append(group);
    }
    const values = Array.from(campaignSelect.options).filter((o) => !o.disabled).map((o) => o.value);
    campaignSelect.value = values.includes(before) ? before : (first || values[0] || "");
    drawTriggers();
    drawRichMenu();
  }

  function triggerAction(trigger) {
    if (trigger.kind === "postback") return () => sendPostback(trigger.value);
    if (trigger.kind === "keyword_exact" || trigger.kind === "keyword_contains") return () => sendText(trigger.value);
    return null;
  }

  function drawTriggers() {
    triggerBox.replaceChildren();
    const { campaign } = picked();
    if (!campaign) return;
    if (!campaign.triggers.length) triggerBox.append(el("span", "tool-label", "此活動沒有觸發（admin-cli triggers add）"));
    for (const trigger of campaign.triggers) {
      const action = triggerAction(trigger);
      const label = trigger.kind === "postback" ? "postback " + trigger.value : "「" + trigger.value + "」";
      const button = el("button", "", label);
      button.type = "button";
      button.title = trigger.kind;
      if (action) button.addEventListener("click", action); else button.disabled = true;
      triggerBox.append(button);
    }
  }

  campaignSelect.addEventListener("change", () => {
    sessionStorage.setItem(PICK_KEY, campaignSelect.value);
    drawTriggers();
    drawRichMenu();
  });

  // --- talking to the service --------------------------------------------------------------

  function say(message, isError) {
    statusLine.textContent = message || "";
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function busy(on) {
    for (const button of document.querySelectorAll(".tools button, .composer button, .richmenu button")) button.disabled = on;
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
      refresh();
    }
  }

  function postJson(path, payload) {
    const user = currentUser();
    return call(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: user.id, name: user.name, ...channelField(), ...payload }),
    });
  }

  async function sendText(text) {
    if (!text || !text.trim()) return;
    if (await postJson("/say", { text })) say("");
  }

  async function sendPostback(data, displayText) {
    const payload = displayText ? { data, display_text: displayText } : { data };
    if (await postJson("/postback", payload)) say("");
  }

  function invoiceLabel(result) {
    return result.invoice_number.slice(0, 2) + "-" + result.invoice_number.slice(2);
  }

  async function addCarrierInvoice() {
    const result = await postJson("/carrier-invoice", {});
    if (!result) return;
    say(`示範載具 ${result.card_no} 新增發票 ${invoiceLabel(result)}（NT$ ${result.total_amount}）：` +
        "在卡片的「電子載具」匯入就會登錄它。");
  }

  async function sendSample(kind) {
    say("產生範例發票中…");
    const { campaign } = picked();
    // 相似照片: another invoice photographed like the last sample (the 相同照片 signal, issue 30)
    const body = kind === "lookalike" ? { kind: "eligible", like_last: true } : { kind };
    if (campaign) body.campaign = campaign.id;
    const result = await postJson("/sample-photo", body);
    if (!result) return;
    const what = `已送出範例發票 ${invoiceLabel(result)}（NT$ ${result.total_amount}）` +
      (result.why_not ? `，不符合此活動的條件：${result.why_not}` : "");
    if (kind === "pending") say(`${what}；財政部模擬器 ${timeOf(result.available_at)} 才有資料，之後的重試會推播結果（00:00–08:00 暫停）。`);
    else if (kind === "never") say(`${what}；財政部模擬器查不到它：用「+1 天」「+3 天」看重試結束、無效。`);
    else say(what + "。");
  }

  async function resendSample() {
    const result = await postJson("/resend-sample", {});
    if (result) say(`再送一次範例發票 ${invoiceLabel(result)}：同一人或別人都是「重複登錄」（活動存了自訂的「同一發票重複登錄」訊息時改送它）。`);
  }

  async function sendFile(file) {
    if (!file) return;
    if (file.size > MAX_PHOTO) { say("照片不可超過 10 MB", true); return; }
    const form = new FormData();
    form.append("user", currentUser().id);
    form.append("name", currentUser().name);
    const extra = channelField();
    if (extra.channel) form.append("channel", String(extra.channel));
    form.append("file", file, file.name || "photo");
    say("上傳照片中…");
    if (await call("/photo", { method: "POST", body: form })) say("");
  }

  function sendCardTrigger() {
    const { campaign } = picked();
    const triggers = (campaign && campaign.triggers) || [];
    const keyword = triggers.find((t) => t.kind === "keyword_exact");
    if (keyword) return sendText(keyword.value);
    if (triggers.length && triggerAction(triggers[0])) return triggerAction(triggers[0])();
    return sendText(body.dataset.keyword);
  }

  tools.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.closest("#triggers")) return;
    if (button.dataset.sample) sendSample(button.dataset.sample);
    else if (button.dataset.action === "keyword") sendCardTrigger();
    else if (button.dataset.action === "resend") resendSample();
    else if (button.dataset.action === "carrier-invoice") addCarrierInvoice();
    else if (button.dataset.action === "file") fileInput.click();
    else if (button.dataset.clock) moveClock({ advance_minutes: Number(button.dataset.clock) });
    else if (button.dataset.clockUntil) moveClock({ until: button.dataset.clockUntil });
    else if ("clockReset" in button.dataset) moveClock({ reset: true });
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

  function setTools(open) {
    tools.hidden = !open;
    toolsToggle.setAttribute("aria-expanded", String(open));
    sessionStorage.setItem(TOOLS_KEY, open ? "open" : "closed");
    followNewest();
  }

  toolsToggle.addEventListener("click", () => setTools(tools.hidden));

  // --- the simulated clock ------------------------------------------------------------------

  let clock = { serverNow: null, at: 0 };

  function showClock() {
    if (!clock.serverNow) return;
    const now = new Date(clock.serverNow.getTime() + (performance.now() - clock.at));
    clockNow.dateTime = now.toISOString();
    clockNow.textContent = now.toLocaleString("zh-TW", {
      timeZone: "Asia/Taipei", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    }) + (clock.offset ? `（快轉 ${formatOffset(clock.offset)}）` : "");
  }

  function formatOffset(seconds) {
    const minutes = Math.round(seconds / 60);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    return (days ? days + " 天 " : "") + (hours ? hours + " 小時 " : "") + (minutes % 60) + " 分";
  }

  function takeClock(state) {
    clock = { serverNow: new Date(state.now), at: performance.now(), offset: state.offset_seconds };
    showClock();
  }

  async function loadClock() {
    try {
      const response = await fetch(`${API}/clock`, { cache: "no-store" });
      if (response.ok) takeClock(await response.json());
    } catch (_e) { /* shown again on the next try */ }
  }

  async function moveClock(payload) {
    const result = await call("/clock", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    if (!result) return;
    takeClock(result);
    say(result.offset_seconds ? `時間已快轉到 ${clockNow.textContent}；工作程序稍後會處理到期的事。` : "時間回到現在。");
    loadCampaigns();
  }

  // --- the rich menu, as LINE draws it -------------------------------------------------------

  let simMenu = null;

  async function loadRichMenu() {
    try {
      const response = await fetch(`${API}/richmenu?user=${encodeURIComponent(currentUser().id)}`, { cache: "no-store" });
      simMenu = response.ok ? (await response.json()).menu : null;
    } catch (_e) { simMenu = null; }
    drawRichMenu();
  }

  function menuAction(action) {
    if (!action || typeof action !== "object") return null;
    if (action.type === "postback") return () => sendPostback(String(action.data || ""), action.displayText);
    if (action.type === "message") return () => sendText(String(action.text || ""));
    if (action.type === "uri") return () => openUri(String(action.uri || ""), action.label || "");
    return null;
  }

  function drawRichMenu() {
    richmenu.replaceChildren();
    if (simMenu && simMenu.size && Array.isArray(simMenu.areas)) {
      // The menu a marketer uploaded (admin-cli richmenu …): its image, its areas on top.
      menubarText.textContent = simMenu.chatBarText || "選單";
      const board = el("div", "richmenu-board");
      const image = el("img");
      image.alt = simMenu.name || "圖文選單";
      image.src = simMenu.image;
      board.append(image);
      for (const area of simMenu.areas) {
        const b = area.bounds || {};
        const button = el("button", "richmenu-area");
        button.type = "button";
        button.title = (area.action && (area.action.label || area.action.data || area.action.text)) || "";
        button.setAttribute("aria-label", button.title || "選單區塊");
        Object.assign(button.style, {
          left: (100 * b.x / simMenu.size.width) + "%", top: (100 * b.y / simMenu.size.height) + "%",
          width: (100 * b.width / simMenu.size.width) + "%", height: (100 * b.height / simMenu.size.height) + "%",
        });
        const act = menuAction(area.action);
        if (act) button.addEventListener("click", act); else button.disabled = true;
        board.append(button);
      }
      richmenu.append(board);
      return;
    }
    // No menu uploaded to the simulator: a one-row menu for the picked campaign.
    menubarText.textContent = "選單";
    const grid = el("div", "richmenu-grid");
    const { campaign } = picked();
    const triggers = (campaign && campaign.triggers) || [];
    const postback = triggers.find((t) => t.kind === "postback");
    const keyword = triggers.find((t) => t.kind === "keyword_exact");
    const main = el("button", "", "發票登錄");
    main.type = "button";
    main.append(el("small", "", campaign ? campaign.name : "示範活動"));
    if (postback) main.addEventListener("click", () => sendPostback(postback.value));
    else if (keyword) main.addEventListener("click", () => sendText(keyword.value));
    else main.addEventListener("click", () => sendPostback(body.dataset.postback));
    const rules = el("button", "quiet", "活動辦法");
    rules.type = "button";
    rules.addEventListener("click", () => openUri("/sandbox/rules", "活動辦法"));
    grid.append(main, rules);
    richmenu.append(grid);
  }

  menubar.addEventListener("click", () => {
    const open = richmenu.hidden;
    richmenu.hidden = !open;
    menubar.setAttribute("aria-expanded", String(open));
    followNewest();
  });

  // --- LIFF pages in a panel sized like LINE's Full view --------------------------------------

  function openLiff(url, title) {
    const target = new URL(url.pathname + url.search, location.origin); // the sandbox serves /liff/ itself
    target.searchParams.set("sandbox_user", currentUser().id);
    const { channel } = channelField(); // the page's 發票資訊 text goes to the channel the card came from
    if (channel) target.searchParams.set("sandbox_channel", String(channel));
    liffTitle.textContent = title || "LIFF";
    liffFrame.src = target.pathname + target.search;
    liff.hidden = false;
  }

  function closeLiff() {
    liff.hidden = true;
    liffFrame.src = "about:blank";
    refresh();
  }

  document.getElementById("liff-close").addEventListener("click", closeLiff);
  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin || event.source !== liffFrame.contentWindow) return;
    if (event.data && event.data.type === "liff-close") closeLiff();
  });

  function openUri(uri, title) {
    const url = safeUrl(uri);
    if (!url) return;
    if (url.pathname.startsWith("/liff/")) openLiff(url, title);
    else window.open(url.href, "_blank", "noopener");
  }

  // --- drawing ------------------------------------------------------------------------------

  function timeOf(at) {
    const when = new Date(at);
    return isNaN(when) ? "" : when.toLocaleTimeString("zh-TW", { timeZone: "Asia/Taipei", hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function dayOf(at) {
    const when = new Date(at);
    return isNaN(when) ? "" : when.toLocaleDateString("zh-TW", { timeZone: "Asia/Taipei", month: "long", day: "numeric", weekday: "short" });
  }

  // The flex renderer is shared with the console's message preview (flex.js).
  const FLEX_ACTIONS = {
    camera: () => fileInput.click(),
    liff: (url, text) => openLiff(url, text),
    message: (text) => sendText(text),
    postback: (data, displayText) => sendPostback(data, displayText),
  };
  const renderBotMessage = (message) => LineFlex.message(message, FLEX_ACTIONS);

  const SAMPLE_NOTES = {
    low: "不符合資格", business: "統編發票", pending: "財政部尚未上傳", never: "財政部查無", unreadable: "模糊照片",
  };

  function renderUserEntry(entry) {
    if (entry.kind === "text") return el("div", "bubble", entry.text);
    if (entry.kind === "postback") return el("div", "bubble", entry.display_text || "");
    const wrap = el("div", "bubble photo");
    const url = safeUrl(entry.photo_url);
    const image = el("img");
    image.alt = "上傳的照片";
    if (url) image.src = url.href;
    wrap.append(image);
    if (entry.sample) {
      const s = entry.sample;
      const notes = [SAMPLE_NOTES[s.kind] || (s.pending ? SAMPLE_NOTES.pending : ""), s.again ? "重送" : ""].filter(Boolean);
      wrap.append(el("div", "caption", `範例發票 ${invoiceLabel(s)} · NT$ ${s.total_amount}` +
        (notes.length ? " · " + notes.join(" · ") : "")));
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

  function followNewest() {
    chat.scrollTop = chat.scrollHeight;
  }

  function draw(items) {
    chat.replaceChildren();
    if (!items.length) {
      chat.append(el("p", "chat-empty", "點下方「登錄發票」開始：機器人會送出發票卡片，30 分鐘內上傳發票照片即可登錄。"));
      return;
    }
    let day = "";
    for (const item of items) {
      if (dayOf(item.at) !== day) {
        day = dayOf(item.at);
        const note = el("div", "row system");
        note.append(el("span", "note", day));
        chat.append(note);
      }
      if (item.side === "user") {
        // A postback without displayText shows nothing on the user's side, as in LINE.
        if (item.entry.kind === "postback" && !item.entry.display_text) continue;
        chat.append(row("user", [renderUserEntry(item.entry)], [el("span", "", timeOf(item.at))]));
      } else {
        const record = item.record;
        const kind = el("span", "kind " + record.kind, record.kind === "reply" ? "reply 免費" : "push 計費");
        kind.title = record.kind === "reply" ? "以 reply token 回覆：不計費" : "主動推播：計費";
        const parts = (record.messages || []).map(renderBotMessage);
        chat.append(row("bot", parts, [kind, el("span", "", timeOf(record.at))]));
      }
    }
    for (const image of chat.querySelectorAll("img")) image.addEventListener("load", followNewest, { once: true });
    followNewest();
  }

  // --- reading what was said, live ------------------------------------------------------------

  let reading = null;
  let again = false;

  async function read() {
    const user = currentUser().id;
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
  }

  function refresh() {
    if (reading) { again = true; return reading; }
    reading = (async () => {
      try {
        do { again = false; await read(); } while (again);
      } catch (_e) {
        // the service may be restarting: the live feed says so and reads again when back
      } finally {
        reading = null;
      }
    })();
    return reading;
  }

  let source = null;
  let lastEvent = null;

  function showLive(state) {
    const last = lastEvent ? " · 最後事件 " + lastEvent.toLocaleTimeString("zh-TW", { hour12: false }) : "";
    live.className = "live " + state;
    live.textContent = { connected: "即時連線中", reconnecting: "重新連線中…", lost: "連線中斷" }[state] + last;
  }

  function connect() {
    if (source) source.close();
    const user = currentUser().id;
    source = new EventSource(`${API}/events?user=${encodeURIComponent(user)}`);
    source.addEventListener("open", () => { showLive("connected"); refresh(); });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) { showLive("reconnecting"); return; }
      showLive("lost"); // the server refused the stream: try again in a while
      setTimeout(() => { if (source.readyState === EventSource.CLOSED) connect(); }, 5000);
    });
    source.addEventListener("hello", (event) => {
      try { const hello = JSON.parse(event.data); if (hello.now) loadClock(); } catch (_e) { /* ignore */ }
    });
    source.addEventListener("said", () => { lastEvent = new Date(); showLive("connected"); refresh(); });
    source.addEventListener("bot", (event) => {
      lastEvent = new Date();
      showLive("connected");
      try {
        if (JSON.parse(event.data).kind === "push") say(""); // a push answered what the line said to wait for
      } catch (_e) { /* ignore */ }
      refresh();
    });
  }

  setTools(sessionStorage.getItem(TOOLS_KEY) !== "closed");
  drawUsers();
  connect();
  loadCampaigns();
  loadRichMenu();
  loadClock();
  setInterval(showClock, 15000);
  // The chat's box changes when the tools, the menu or the picker change size: keep the newest
  // message in view.
  new ResizeObserver(followNewest).observe(chat);
})();
