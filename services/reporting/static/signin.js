// Signing in to the dashboard. The key is kept in sessionStorage (this tab only, gone when it closes)
// and sent as `Authorization: Bearer …` on the page's own requests. A wall-screen link carries the key
// in the URL fragment (`/#key=…`), which browsers never send to the server: it is moved into the
// session and wiped from the address bar at once, so it shows up in no server log and no history.
(function () {
  "use strict";
  var STORE = "kaohe.key";
  var waiting = [];

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function key() {
    var store = storage();
    return (store && store.getItem(STORE)) || "";
  }

  function keep(value) {
    var store = storage();
    if (store) { store.setItem(STORE, value); }
  }

  function forget() {
    var store = storage();
    if (store) { store.removeItem(STORE); }
  }

  // `#key=…` → session; the fragment leaves the address bar (and the history entry) right away.
  function takeKeyFromFragment() {
    var match = /(?:^#|&)key=([^&]+)/.exec(window.location.hash || "");
    if (!match) { return; }
    keep(decodeURIComponent(match[1]));
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function headers(extra) {
    var all = {};
    Object.keys(extra || {}).forEach(function (name) { all[name] = extra[name]; });
    if (key()) { all.Authorization = "Bearer " + key(); }
    return all;
  }

  function form() { return document.getElementById("signin"); }

  // Show the sign-in form (with why, when a key was refused) and call `then` once a key is entered.
  function ask(message, then) {
    if (then) { waiting.push(then); }
    var box = form();
    document.getElementById("signin-message").textContent = message || "";
    box.hidden = false;
    document.body.classList.add("signed-out");
    document.getElementById("signin-key").focus();
  }

  function submitted(event) {
    event.preventDefault();
    var input = document.getElementById("signin-key"), value = input.value.trim();
    if (!value) { document.getElementById("signin-message").textContent = "请输入密钥。"; return; }
    keep(value);
    input.value = "";
    form().hidden = true;
    document.body.classList.remove("signed-out");
    var callbacks = waiting;
    waiting = [];
    callbacks.forEach(function (callback) { callback(); });
  }

  // A refused key (401: unknown or revoked; 403: a role that may not read the dashboard) is dropped.
  function refused(status, then) {
    forget();
    ask(status === 403 ? "此密钥无权查看看板，请使用查看（viewer）或办公室密钥。" : "密钥无效或已被吊销，请重新输入。", then);
  }

  takeKeyFromFragment();
  form().addEventListener("submit", submitted);  // the form comes before this script in the page
  window.kaoheAuth = { key: key, headers: headers, ask: ask, refused: refused, forget: forget };
}());
