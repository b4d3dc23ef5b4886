// The login page: posts the user name and password to /api/auth/login as JSON, then goes
// to ?next= when it is a path on this console (never another site: no open redirect).
"use strict";

(() => {
  const LANG_KEY = "lantai.lang"; // shared with the desk page (app.js)
  const FETCH_TIMEOUT_MS = 15000; // argon2 takes a moment on a small machine

  const TEXT = {
    zh: {
      product: "兰台 · 档案安全监测",
      title: "登录",
      username: "用户名",
      password: "密码",
      submit: "登录",
      busy: "正在登录…",
      help: "忘记密码或账户被锁定，请联系系统管理员。",
      toggle: "English",
      missing: "请填写用户名和密码",
      wrong: "用户名或密码错误",
      throttled: (minutes) => `登录失败次数过多，请 ${minutes} 分钟后再试`,
      unreachable: "无法连接服务器，请稍后再试",
      failed: (status) => `登录失败（HTTP ${status}）`,
    },
    en: {
      product: "Lantai · archive safety monitoring",
      title: "Log in",
      username: "User name",
      password: "Password",
      submit: "Log in",
      busy: "Logging in…",
      help: "Forgot your password, or locked out? Ask your administrator.",
      toggle: "中文",
      missing: "Enter your user name and password",
      wrong: "Wrong user name or password",
      throttled: (minutes) => `Too many failed attempts: try again in ${minutes} min`,
      unreachable: "Cannot reach the server; try again shortly",
      failed: (status) => `Login failed (HTTP ${status})`,
    },
  };

  const params = new URLSearchParams(window.location.search);
  let lang = chooseLanguage();
  let message = null; // [key, ...args] of the text shown under the form

  function chooseLanguage() {
    const asked = params.get("lang");
    if (asked === "zh" || asked === "en") return asked;
    try {
      const saved = window.localStorage.getItem(LANG_KEY);
      if (saved === "zh" || saved === "en") return saved;
    } catch (_) {
      // Storage can be switched off; Chinese is the default then.
    }
    return "zh";
  }

  function remember(value) {
    try {
      window.localStorage.setItem(LANG_KEY, value);
    } catch (_) {
      // The desk page falls back to its own default.
    }
  }

  // Where to go after logging in: a path on this console, or the desk. A value like
  // "//evil.example" or "https://evil.example" is relative in looks only, so the check
  // is on the resolved origin, not on the text.
  function safeNext(raw) {
    if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
    try {
      const target = new URL(raw, window.location.origin);
      if (target.origin !== window.location.origin || target.pathname === "/login") return "/";
      // A server redirect cannot see a page's #route (the browser never sends it), but the
      // browser carries it over to this page: a bookmarked /#/room/... comes back to it.
      const hash = target.hash || window.location.hash;
      return target.pathname + target.search + hash;
    } catch (_) {
      return "/";
    }
  }

  function render() {
    const t = TEXT[lang];
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t[node.dataset.i18n];
    }
    const toggle = document.getElementById("lang-toggle");
    toggle.textContent = t.toggle;
    toggle.lang = lang === "zh" ? "en" : "zh-CN";
    document.title = `${t.product} · ${t.title}`;
    const box = document.getElementById("message");
    box.hidden = message === null;
    if (message !== null) {
      const [key, ...args] = message;
      const text = t[key];
      box.textContent = typeof text === "function" ? text(...args) : text;
    }
  }

  function show(key, ...args) {
    message = [key, ...args];
    render();
  }

  async function post(url, body) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      return await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: abort.signal,
        cache: "no-store",
        credentials: "same-origin",
      });
    } finally {
      clearTimeout(timer);
    }
  }

  function enter(user) {
    // The account's language wins from now on, on this page and on the desk's.
    remember(user.language === "en" ? "en" : "zh");
    window.location.replace(safeNext(params.get("next")));
  }

  async function submit(event) {
    event.preventDefault();
    const username = document.getElementById("username").value.trim();
    const password = document.getElementById("password").value;
    if (!username || !password) {
      show("missing");
      return;
    }
    const button = document.getElementById("submit");
    button.disabled = true;
    button.textContent = TEXT[lang].busy;
    try {
      const response = await post("/api/auth/login", { username, password });
      if (response.ok) {
        enter((await response.json()).user);
        return;
      }
      if (response.status === 401) {
        show("wrong");
      } else if (response.status === 429) {
        const seconds = Number(response.headers.get("Retry-After")) || 60;
        show("throttled", Math.max(1, Math.ceil(seconds / 60)));
      } else {
        show("failed", response.status);
      }
      const field = document.getElementById("password");
      field.value = "";
      field.focus();
    } catch (_) {
      show("unreachable");
    } finally {
      button.disabled = false;
      button.textContent = TEXT[lang].submit;
    }
  }

  // Already logged in (a bookmark to /login, the back button): go straight on.
  async function skipIfLoggedIn() {
    try {
      const response = await fetch("/api/auth/me", { cache: "no-store", credentials: "same-origin" });
      if (response.ok) enter((await response.json()).user);
    } catch (_) {
      // The form is there; a login attempt will say what is wrong.
    }
  }

  document.getElementById("lang-toggle").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    remember(lang);
    render();
  });
  document.getElementById("login-form").addEventListener("submit", submit);
  render();
  document.getElementById("username").focus();
  skipIfLoggedIn();
})();
