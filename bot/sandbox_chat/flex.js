// LINE's way of drawing a bot message (text, flex bubble or carousel, image), shared by the sandbox
// chat (/sandbox/static/flex.js) and the console's message preview (/console/line-flex.js): one
// file, served by both. `actions` says what tapping a button does (camera, liff, message,
// postback); without one the button is drawn but inert. Every text goes in with textContent.
"use strict";
window.LineFlex = (function () {
  const CAMERA_URI = "https://line.me/R/nv/camera/";

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

  function renderAction(action, label, style, actions) {
    const text = label || (action && action.label) || "";
    const classes = "flex-action " + (style || "");
    if (!action || typeof action !== "object") return el("span", classes, text);
    if (action.type === "uri") {
      if (action.uri === CAMERA_URI && actions.camera) {
        const button = el("button", classes, text);
        button.type = "button";
        button.title = "開啟相機（這裡：選擇照片）";
        button.addEventListener("click", () => actions.camera());
        return button;
      }
      const url = safeUrl(action.uri);
      if (url && url.pathname.startsWith("/liff/") && actions.liff) {
        const button = el("button", classes, text);
        button.type = "button";
        button.dataset.liff = url.pathname;
        button.addEventListener("click", () => actions.liff(url, text));
        return button;
      }
      const link = el("a", classes, text);
      if (!url) { link.setAttribute("aria-disabled", "true"); return link; }
      link.href = url.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    if ((action.type === "postback" && actions.postback) || (action.type === "message" && actions.message)) {
      const button = el("button", classes, text);
      button.type = "button";
      button.addEventListener("click", () => {
        if (action.type === "message") actions.message(String(action.text || ""));
        else actions.postback(String(action.data || ""), action.displayText);
      });
      return button;
    }
    const other = el("span", classes, text);
    other.setAttribute("aria-disabled", "true");
    return other;
  }

  function renderFlex(node, actions) {
    if (!node || typeof node !== "object") return el("span");
    switch (node.type) {
      case "carousel": {
        const box = el("div", "flex-carousel");
        for (const bubble of node.contents || []) box.append(renderFlex(bubble, actions));
        return box;
      }
      case "bubble": {
        const bubble = el("div", "flex-bubble");
        for (const part of ["header", "hero", "body", "footer"]) {
          if (!node[part]) continue;
          const section = el("div", "flex-section " + part);
          section.append(renderFlex(node[part], actions));
          bubble.append(section);
        }
        return bubble;
      }
      case "box": {
        const box = el("div", "flex-box " + (node.layout || "vertical"));
        for (const child of node.contents || []) box.append(renderFlex(child, actions));
        return box;
      }
      case "text": {
        const spans = Array.isArray(node.contents) ? node.contents.map((s) => (s && s.text) || "").join("") : "";
        const text = el("div", "flex-text", spans || node.text || "");
        if (node.weight === "bold") text.classList.add("bold");
        if (node.size) text.classList.add("size-" + node.size);
        if (node.action) return renderAction(node.action, text.textContent, "link", actions);
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
        return renderAction(node.action, null, node.style || "secondary", actions);
      case "separator":
        return el("hr", "flex-separator");
      case "spacer":
      case "filler":
        return el("div", "flex-spacer");
      default:
        return el("span");
    }
  }

  function renderMessage(message, actions) {
    if (message.type === "text") return el("div", "bubble", message.text);
    if (message.type === "flex") {
      const flex = renderFlex(message.contents, actions || {});
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

  return { el, safeUrl, message: renderMessage };
})();
