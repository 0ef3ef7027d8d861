/* Sandbox stand-in for LINE's LIFF SDK v2, backed by the LINE simulator (see liff_pages/shim.py
   for the contract with the sandbox chat page). */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var user = params.get("sandbox_user") || "{{demo_user}}";
  var channel = /^[1-9][0-9]{0,15}$/.test(params.get("sandbox_channel") || "") ? Number(params.get("sandbox_channel")) : null;
  var framed = window.parent !== window;
  var token = null;
  var claims = {};
  var id = null;

  function decode(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var bytes = Uint8Array.from(atob(part), function (c) { return c.charCodeAt(0); });
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) { return {}; }
  }

  window.liff = {
    get id() { return id; },
    init: function (config) {
      id = (config && config.liffId) || null;
      return fetch("/sandbox/line/_sim/id_tokens", {
        method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId: user })
      }).then(function (res) {
        if (!res.ok) throw new Error("id token: HTTP " + res.status);
        return res.json();
      }).then(function (data) { token = data.idToken; claims = decode(token); });
    },
    isLoggedIn: function () { return true; },
    isInClient: function () { return framed; },
    login: function () {},
    getIDToken: function () { return token; },
    getDecodedIDToken: function () { return claims; },
    getProfile: function () {
      return Promise.resolve({ userId: user, displayName: claims.name || "" });
    },
    sendMessages: function (messages) {
      if (!framed) return Promise.reject({ code: "FORBIDDEN", message: "sendMessages: not in the LINE client" });
      return messages.reduce(function (chain, message) {
        return chain.then(function () {
          return fetch("/sandbox/api/say", {
            method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
            body: JSON.stringify(channel ? { user: user, text: message.text, channel: channel } : { user: user, text: message.text })
          }).then(function (res) { if (!res.ok) throw { code: "500", message: "say: HTTP " + res.status }; });
        });
      }, Promise.resolve());
    },
    closeWindow: function () {
      if (framed) window.parent.postMessage({ type: "liff-close" }, location.origin);
      else window.close();
    }
  };
})();
